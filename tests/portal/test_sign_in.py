"""Sign-in, role homes, throttling, password reset, admin access, language, health, demo data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django_scopes import scopes_disabled

from portal.models import Organisation, Role, User
from tests.support.clients import client_for
from tests.support.factories import PASSWORD
from tests.support.world import World

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("alice.credit_manager", "/portal/"),
        ("alice.finance", "/portal/"),
        ("broker", "/broker/"),
        ("staff.arbiter", "/backoffice/"),
        ("staff.senior_arbiter", "/backoffice/"),
        ("staff.claims_handler", "/backoffice/"),
        ("staff.finance_ops", "/finance/"),
    ],
)
def test_each_role_lands_on_its_home_page(world: World, who: str, home: str) -> None:
    if who == "broker":
        user = world.broker_user
    elif who.startswith("staff."):
        user = world.staff[who.removeprefix("staff.")]
    else:
        tenant, attr = who.split(".")
        user = getattr(world.tenant(tenant), attr)
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    landing = client.get(response["Location"], follow=True)
    assert landing.redirect_chain[-1][0] == home
    assert landing.status_code == 200


def test_a_wholesaler_cannot_open_the_back_office_or_finance_pages(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    assert client.get("/backoffice/").status_code == 404
    assert client.get("/finance/").status_code == 404
    assert client.get("/broker/").status_code == 404


def test_the_broker_client_list_shows_only_mandated_policyholders(world: World) -> None:
    page = client_for(world.broker_user).get("/broker/").content.decode()
    assert world.alice.organisation.name in page
    assert world.bob.organisation.name not in page


def test_an_anonymous_visitor_is_sent_to_the_login_page(db: None) -> None:
    response = Client().get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_is_throttled_after_repeated_failures(world: World) -> None:
    client = Client()
    user = world.alice.credit_manager
    for _ in range(5):
        client.post("/login/", {"username": user.username, "password": "wrong"})
    locked = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_working_link(world: World) -> None:
    user = world.alice.credit_manager
    client = Client()
    client.post("/password-reset/", {"email": user.email})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get(f"/{path}", follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Another-long-passw0rd", "new_password2": "Another-long-passw0rd"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Another-long-passw0rd")


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(db: None) -> None:
    response = Client().post("/password-reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_django_admin_is_for_insurer_superusers_only(world: World) -> None:
    assert client_for(world.staff[Role.ADMIN]).get("/admin/").status_code == 200
    assert client_for(world.staff[Role.ARBITER]).get("/admin/").status_code == 302
    tenant_superuser = world.alice.users[Role.ORG_ADMIN]
    tenant_superuser.is_superuser = tenant_superuser.is_staff = True
    tenant_superuser.save(update_fields=["is_superuser", "is_staff"])
    assert client_for(tenant_superuser).get("/admin/").status_code == 302


def test_the_interface_is_french_by_default_and_english_on_request(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    page = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "Tableau de bord" in page.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/portal/"})
    assert "Dashboard" in client.get("/portal/").content.decode()


def test_healthz_answers_200_when_database_and_broker_answer(db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_healthz_answers_503_when_the_broker_is_down(db: None, settings: object) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # type: ignore[attr-defined]
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")


def test_the_api_schema_and_docs_are_served(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/contracts/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_an_api_token_is_issued_for_valid_credentials_only(world: World) -> None:
    user = world.alice.credit_manager
    ok = Client().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["token"]
    bad = Client().post("/api/v1/auth/token/", {"username": user.username, "password": "nope"})
    assert bad.status_code == 400
    me = Client(HTTP_AUTHORIZATION=f"Token {ok.json()['token']}").get("/api/v1/me/")
    assert me.json()["organisation"]["name"] == world.alice.organisation.name


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    from billing.models import BillingRun, Invoice
    from portal.models import Mandate
    from underwriting.models import Buyer, Contract, Guarantee, GuaranteeRequest

    with scopes_disabled():
        return {
            "organisations": sorted(Organisation.objects.values_list("pk", "name", "kind")),
            "users": sorted(User.objects.values_list("username", "password", "role")),
            "mandates": sorted(Mandate.objects.values_list("pk", "starts_on")),
            "contracts": sorted(Contract.objects.values_list("pk", "number", "status")),
            "buyers": sorted(Buyer.objects.values_list("pk", "siren", "grade")),
            "requests": sorted(GuaranteeRequest.objects.values_list("pk", "status")),
            "guarantees": sorted(Guarantee.objects.values_list("pk", "amount")),
            "invoices": sorted(Invoice.objects.values_list("number", "total")),
            "runs": sorted(BillingRun.objects.values_list("pk", "issued")),
        }


def test_the_demo_world_is_believable_and_idempotent(db: None) -> None:
    from stdnum.fr import siren

    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first
    with scopes_disabled():
        assert Organisation.objects.filter(kind="policyholder").count() == 4
        roles = set(User.objects.values_list("role", flat=True))
        assert set(Role.values) <= roles
        assert len(first["contracts"]) == 4
    assert len(first["buyers"]) >= 200
    assert first["guarantees"] and first["requests"]
    assert len(first["invoices"]) == 4  # last month billed once, one invoice per contract
    assert all(siren.is_valid(row[1]) for row in first["buyers"])


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_DEBUG": "false",
        "UNLOCKPLUS_SECURE": "true",
        "DJANGO_SECRET_KEY": "a8f!kQ2#pL9zR4$wX7mN1vB6cT3yH0jD5gS8eU2iO4-test-only-key",
        "DJANGO_ALLOWED_HOSTS": "unlockplus.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

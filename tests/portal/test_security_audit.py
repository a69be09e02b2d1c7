"""The security audit page: the insurer admin's only; every security event newest first, filtered
from the URL (bad filters say what is wrong, never a 500), paginated, and exported as CSV with
exactly the rows the filters select."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.models import AuditEvent, Role, User
from portal.security import SecurityEvent, security_event_record
from tests.support.clients import client_for
from tests.support.factories import PASSWORD
from tests.support.roles import ROLES, user_for
from tests.support.world import World

AUDIT = "/backoffice/security/"
EXPORT = "/backoffice/security/export/"


@pytest.fixture
def admin(world: World) -> Client:
    return client_for(world.staff["admin"])


@pytest.fixture
def recorded(world: World) -> None:
    """A sign-in and a failure for alice's credit manager, a role change for bob's finance."""
    Client(HTTP_USER_AGENT="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Firefox/133.0").post(
        "/login/", {"username": world.alice.credit_manager.username, "password": PASSWORD}
    )
    Client().post("/login/", {"username": world.alice.credit_manager.username, "password": "no"})
    Client().post("/login/", {"username": "=cmd|' /C calc'!A0", "password": "no"})
    user = world.bob.finance
    user.role = Role.ORG_ADMIN
    user.save()


def shown(response: object) -> list[str]:
    html = response.content.decode()  # type: ignore[attr-defined]
    return [
        part.split('"', 1)[0]
        for part in html.split('data-testid="security-event" data-action="')[1:]
    ]


def exported(client: Client, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"{EXPORT}?{query}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


@pytest.mark.parametrize("role", [role for role in ROLES if role != "admin"])
def test_everyone_but_the_insurer_admin_gets_404(world: World, role: str) -> None:
    client = client_for(user_for(world, role))
    for url in (AUDIT, EXPORT):
        status = client.get(url).status_code
        if role == "inactive":
            assert status == 302  # no session: sent to sign in
        else:
            assert status == 404, (role, url)


def test_the_back_office_home_links_it_for_the_admin_only(world: World, admin: Client) -> None:
    assert 'data-testid="security-audit-link"' in admin.get("/backoffice/").content.decode()
    arbiter = client_for(world.staff["arbiter"]).get("/backoffice/").content.decode()
    assert 'data-testid="security-audit-link"' not in arbiter


@pytest.mark.usefixtures("recorded")
def test_the_page_shows_every_security_event_newest_first(world: World, admin: Client) -> None:
    response = admin.get(AUDIT)
    assert response.status_code == 200
    actions = shown(response)
    assert actions[0] == SecurityEvent.SIGNED_IN  # the admin's own sign-in (client_for)
    assert actions[1] == SecurityEvent.ROLE_CHANGED
    html = response.content.decode()
    assert "Échec de connexion" in html and "Rôle modifié" in html
    assert "Finance → Administrateur de l&#x27;organisation" in html
    assert "Firefox sur macOS" in html
    assert "compte inconnu" in html
    # French dates in Paris time.
    at = AuditEvent.objects.filter(action=SecurityEvent.ROLE_CHANGED).get().at
    assert timezone.localtime(at).strftime("%d/%m/%Y %H:%M") in html


@pytest.mark.usefixtures("recorded")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"kind={SecurityEvent.SIGN_IN_FAILED.value}", {SecurityEvent.SIGN_IN_FAILED}),
        ("q=finance%40bob", {SecurityEvent.ROLE_CHANGED}),
        ("q=cmd", {SecurityEvent.SIGN_IN_FAILED}),
    ],
)
def test_filters_select_by_kind_and_user(admin: Client, query: str, expected: set[str]) -> None:
    assert set(shown(admin.get(f"{AUDIT}?{query}"))) == expected


@pytest.mark.usefixtures("recorded")
def test_the_organisation_filter_selects_its_members_events(world: World, admin: Client) -> None:
    bob = shown(admin.get(f"{AUDIT}?organisation={world.bob.organisation.pk}"))
    assert bob == [SecurityEvent.ROLE_CHANGED]
    alice = set(shown(admin.get(f"{AUDIT}?organisation={world.alice.organisation.pk}")))
    # her users' sign-ins and failures, and the mandate her broker holds (made with the world)
    assert alice == {
        SecurityEvent.SIGNED_IN,
        SecurityEvent.SIGN_IN_FAILED,
        SecurityEvent.MANDATE_CHANGED,
    }
    broker = set(shown(admin.get(f"{AUDIT}?organisation={world.broker.pk}")))
    assert broker == {SecurityEvent.MANDATE_CHANGED}


@pytest.mark.usefixtures("recorded")
def test_the_date_filters_bound_the_days_in_paris_time(admin: Client) -> None:
    old = security_event_record(action=SecurityEvent.PASSWORD_CHANGED, user=None)
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=40))
    today = timezone.localdate()
    recent = shown(admin.get(f"{AUDIT}?date_from={today:%d/%m/%Y}"))
    assert SecurityEvent.PASSWORD_CHANGED not in recent and recent
    day = timezone.localdate(timezone.now() - timedelta(days=40))
    assert shown(admin.get(f"{AUDIT}?date_from={day:%Y-%m-%d}&date_to={day:%Y-%m-%d}")) == [
        SecurityEvent.PASSWORD_CHANGED
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("date_from=31/02/2026", "Du"),
        ("date_to=9999-12-31", "Au"),
        ("date_from=2026-05-02&date_to=2026-05-01", "Au"),
        ("organisation=not-a-uuid", "Organisation"),
        ("kind=security.nothing", "Événement"),
        ("q=a%00b", "Utilisateur"),
        ("q=" + "x" * 101, "Utilisateur"),
        ("page=0", "Page"),
    ],
)
def test_a_bad_filter_names_the_field_and_never_errors(
    admin: Client, query: str, field: str
) -> None:
    response = admin.get(f"{AUDIT}?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="filter-errors"' in html or field == "Page"
    if field != "Page":
        assert f"{field} :" in html
    assert admin.get(f"{EXPORT}?{query}").status_code == 200


def test_the_page_is_paginated(world: World, admin: Client) -> None:
    for _ in range(55):
        security_event_record(action=SecurityEvent.PASSWORD_CHANGED, user=world.alice.finance)
    first = admin.get(f"{AUDIT}?kind={SecurityEvent.PASSWORD_CHANGED.value}")
    assert len(shown(first)) == 50
    assert "Page 1 sur 2" in first.content.decode()
    second = admin.get(f"{AUDIT}?kind={SecurityEvent.PASSWORD_CHANGED.value}&page=2")
    assert len(shown(second)) == 5


@pytest.mark.usefixtures("recorded")
def test_the_export_holds_exactly_the_filtered_events(world: World, admin: Client) -> None:
    everything = exported(admin)
    assert len(everything) == AuditEvent.objects.filter(action__startswith="security.").count()
    failures = exported(admin, f"kind={SecurityEvent.SIGN_IN_FAILED.value}")
    assert {row["code"] for row in failures} == {SecurityEvent.SIGN_IN_FAILED.value}
    assert len(failures) == 2
    known = next(row for row in failures if row["email"])
    assert known["email"] == world.alice.credit_manager.email
    assert known["organisation"] == world.alice.organisation.name
    # A typed username that a spreadsheet would run as a formula is defused.
    unknown = next(row for row in failures if not row["email"])
    assert unknown["utilisateur"].startswith("'=")
    assert exported(admin, "date_to=nonsense") == []


def test_an_admin_sees_who_acted_on_someone_else(world: World, admin: Client) -> None:
    from django.test import RequestFactory

    from portal.security_receivers import mark_actor

    request = RequestFactory().post("/admin/")
    request.user = world.staff["admin"]
    user: User = world.alice.finance
    user.role = Role.CREDIT_MANAGER
    mark_actor(user, request)
    user.save()
    rows = exported(admin, f"kind={SecurityEvent.ROLE_CHANGED.value}")
    assert [(row["email"], row["par"]) for row in rows] == [(user.email, str(world.staff["admin"]))]

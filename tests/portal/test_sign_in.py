"""Sign-in: each role lands on its home, anonymous visitors go to the login page, failed logins are
throttled, API tokens for valid credentials only."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from tests.support.clients import otp_code, totp_device
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
    device = totp_device(user) if who.startswith("staff.") else None
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    landing = client.get(response["Location"], follow=True)
    if device is not None:  # insurer staff give their two-factor code after the password
        assert landing.redirect_chain[-1][0].startswith("/account/two-factor/verify/")
        landing = client.post(
            "/account/two-factor/verify/", {"code": otp_code(device)}, follow=True
        )
    assert landing.redirect_chain[-1][0] == home
    assert landing.status_code == 200


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


def test_an_api_token_is_issued_for_valid_credentials_only(world: World) -> None:
    user = world.alice.credit_manager
    ok = Client().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["token"]
    bad = Client().post("/api/v1/auth/token/", {"username": user.username, "password": "nope"})
    assert bad.status_code == 400
    me = Client(HTTP_AUTHORIZATION=f"Token {ok.json()['token']}").get("/api/v1/me/")
    assert me.json()["organisation"]["name"] == world.alice.organisation.name

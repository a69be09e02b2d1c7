"""API tokens and two-factor sign-in: a user who signs in with a code gives it in `otp`."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from portal.models import AuditEvent, User
from portal.security import SecurityEvent
from tests.support.clients import otp_code, totp_device
from tests.support.factories import PASSWORD
from tests.support.world import World


def _token(user: User, **extra: str) -> Any:
    return Client().post(
        reverse("api-token"), {"username": user.username, "password": PASSWORD, **extra}
    )


def test_an_insurer_user_without_a_code_gets_a_400_naming_otp(world: World) -> None:
    arbiter = world.staff["arbiter"]
    totp_device(arbiter)
    response = _token(arbiter)
    assert response.status_code == 400
    assert response.json()["field"] == "otp"
    assert response.json()["code"] == "otp_required"


def test_a_wrong_code_gets_a_400_naming_otp_and_is_recorded(world: World) -> None:
    arbiter = world.staff["arbiter"]
    device = totp_device(arbiter)
    wrong = "000000" if otp_code(device) != "000000" else "111111"
    response = _token(arbiter, otp=wrong)
    assert response.status_code == 400
    assert response.json()["field"] == "otp"
    assert AuditEvent.objects.filter(
        action=SecurityEvent.TWO_FACTOR_FAILED.value, object_id=str(arbiter.pk)
    ).exists()


def test_the_right_code_issues_a_token(world: World) -> None:
    arbiter = world.staff["arbiter"]
    device = totp_device(arbiter)
    response = _token(arbiter, otp=otp_code(device))
    assert response.status_code == 200
    token = response.json()["token"]
    me = Client(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me/")
    assert me.status_code == 200


def test_an_insurer_user_who_never_enrolled_is_told_to_enrol_in_the_browser(
    world: World,
) -> None:
    response = _token(world.staff["finance_ops"], otp="123456")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "otp"
    assert body["code"] == "two_factor_enrolment_required"
    assert "navigateur" in body["detail"]


def test_a_policyholder_user_without_two_factor_needs_no_code(world: World) -> None:
    assert _token(world.alice.credit_manager).status_code == 200


def test_a_policyholder_user_who_enrolled_needs_a_code(world: World) -> None:
    user = world.alice.credit_manager
    device = totp_device(user)
    assert _token(user).status_code == 400
    assert _token(user, otp=otp_code(device)).status_code == 200


def test_a_wrong_password_is_refused_before_any_code_is_checked(world: World) -> None:
    arbiter = world.staff["arbiter"]
    totp_device(arbiter)
    response = Client().post(
        reverse("api-token"), {"username": arbiter.username, "password": "nope", "otp": "1"}
    )
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action=SecurityEvent.TWO_FACTOR_FAILED.value).exists()


def test_the_schema_documents_the_otp_field(db: None) -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    if schema.status_code in (401, 403):
        return  # the schema needs a sign-in in this configuration: nothing to read here
    text = schema.content.decode()
    assert "otp" in text and "recovery codes" in text

"""The two-factor gate: an insurer user gives a code (or enrols) before any back-office page;
policyholders and brokers pass unless they enrolled or their organisation requires it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import AuditEvent, User
from portal.security import SecurityEvent
from tests.support.clients import client_for, otp_code, totp_device, unverified_client
from tests.support.roles import INSURER_ROLES, POLICYHOLDER_ROLES, user_for
from tests.support.world import World


def _redirect(response: object) -> tuple[str, str]:
    """The path a redirect sends to and its `next`."""
    location = response["Location"]  # type: ignore[index]
    parts = urlsplit(location)
    return parts.path, parse_qs(parts.query).get("next", [""])[0]


@pytest.mark.parametrize("role", INSURER_ROLES)
def test_an_insurer_user_without_a_device_is_sent_to_enrol_from_every_page(
    world: World, role: str
) -> None:
    client = unverified_client(user_for(world, role))
    for url in ("/", "/backoffice/", "/notifications/", "/account/tokens/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert _redirect(response) == (reverse("two_factor"), url)


def test_an_insurer_user_with_a_device_gives_a_code_before_the_back_office(world: World) -> None:
    arbiter = world.staff["arbiter"]
    device = totp_device(arbiter)
    client = unverified_client(arbiter)
    response = client.get("/backoffice/?tab=mine")
    assert _redirect(response) == (reverse("two_factor_verify"), "/backoffice/?tab=mine")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Code de double authentification" in page.content.decode()
    answer = client.post(
        reverse("two_factor_verify"), {"code": otp_code(device), "next": "/backoffice/?tab=mine"}
    )
    assert answer.status_code == 302
    assert answer["Location"] == "/backoffice/?tab=mine"
    assert client.get("/backoffice/").status_code == 200
    assert AuditEvent.objects.filter(
        action=SecurityEvent.TWO_FACTOR_VERIFIED.value, object_id=str(arbiter.pk)
    ).exists()


def test_the_code_page_refuses_a_next_on_another_site(world: World) -> None:
    arbiter = world.staff["arbiter"]
    device = totp_device(arbiter)
    client = unverified_client(arbiter)
    answer = client.post(
        reverse("two_factor_verify"), {"code": otp_code(device), "next": "https://evil.test/"}
    )
    assert answer["Location"] == reverse("home")


def test_a_wrong_code_is_refused_on_the_field_recorded_and_throttled(world: World) -> None:
    arbiter = world.staff["arbiter"]
    device = totp_device(arbiter)
    client = unverified_client(arbiter)
    wrong = "000000" if otp_code(device) != "000000" else "111111"
    response = client.post(reverse("two_factor_verify"), {"code": wrong})
    assert response.status_code == 400
    errors = response.context["form"].errors["code"]
    assert errors and "Code incorrect" in errors[0]
    assert client.get("/backoffice/").status_code == 302  # still not verified
    failed = AuditEvent.objects.filter(
        action=SecurityEvent.TWO_FACTOR_FAILED.value, object_id=str(arbiter.pk)
    )
    assert failed.count() == 1
    # At once, even the right code waits: django-otp backs off after each failure.
    again = client.post(reverse("two_factor_verify"), {"code": otp_code(device)})
    assert again.status_code == 400
    assert "réessayez dans" in again.context["form"].errors["code"][0]
    assert failed.count() == 2
    assert sorted(event.data["throttled"] for event in failed) == [False, True]


def test_a_policyholder_user_who_did_not_enrol_passes(world: World) -> None:
    for role in POLICYHOLDER_ROLES:
        client = unverified_client(user_for(world, role))
        assert client.get("/portal/").status_code == 200, role
    assert unverified_client(world.broker_user).get("/broker/").status_code == 200


def test_a_policyholder_user_who_enrolled_gives_a_code_too(world: World) -> None:
    user = world.alice.credit_manager
    device = totp_device(user)
    client = unverified_client(user)
    response = client.get("/portal/")
    assert _redirect(response) == (reverse("two_factor_verify"), "/portal/")
    client.post(reverse("two_factor_verify"), {"code": otp_code(device)})
    assert client.get("/portal/").status_code == 200


def test_users_of_an_organisation_that_requires_it_enrol_at_their_next_request(
    world: World,
) -> None:
    user = world.alice.finance
    client = unverified_client(user)
    assert client.get("/portal/").status_code == 200
    type(world.alice.organisation).objects.filter(pk=world.alice.organisation.pk).update(
        two_factor_required=True
    )
    response = client.get("/portal/")
    assert _redirect(response) == (reverse("two_factor"), "/portal/")
    # bob's users are not concerned
    assert unverified_client(world.bob.finance).get("/portal/").status_code == 200


def test_sign_out_the_two_factor_pages_and_password_reset_stay_open(world: World) -> None:
    client = unverified_client(world.staff["arbiter"])
    assert client.get(reverse("two_factor")).status_code == 200
    assert client.get(reverse("password_reset")).status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_session_api_call_gets_a_403_in_the_error_body(world: World) -> None:
    arbiter = world.staff["arbiter"]
    response = unverified_client(arbiter).get("/api/v1/contracts/")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "two_factor_enrolment_required"
    assert body["detail"]
    totp_device(arbiter)
    response = unverified_client(arbiter).get("/api/v1/contracts/")
    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_code_required"
    assert client_for(arbiter).get("/api/v1/contracts/").status_code == 200


def test_an_htmx_request_is_redirected_by_the_client(world: World) -> None:
    response = unverified_client(world.staff["arbiter"]).get("/backoffice/", HTTP_HX_REQUEST="true")
    assert response.headers.get("HX-Redirect", "").startswith(reverse("two_factor"))


def test_an_anonymous_visitor_still_goes_to_sign_in(db: None) -> None:
    response = Client().get("/backoffice/")
    assert response["Location"].startswith(reverse("login"))


def test_the_password_form_then_the_code_lands_on_the_back_office(world: World) -> None:
    from tests.support.factories import PASSWORD

    arbiter = world.staff["arbiter"]
    device = totp_device(arbiter)
    client = Client()
    response = client.post(
        reverse("login"), {"username": arbiter.username, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0].startswith(reverse("two_factor_verify"))
    landing = client.post(
        reverse("two_factor_verify"),
        {"code": otp_code(device), "next": _redirect_next(response)},
        follow=True,
    )
    assert landing.redirect_chain[-1][0] == reverse("backoffice")


def _redirect_next(response: object) -> str:
    url = response.redirect_chain[-1][0]  # type: ignore[attr-defined]
    return parse_qs(urlsplit(url).query).get("next", [""])[0]


def test_a_user_with_only_an_unconfirmed_device_is_not_asked_for_a_code(world: World) -> None:
    user: User = world.alice.credit_manager
    TOTPDevice.objects.create(user=user, name="x", confirmed=False)
    assert unverified_client(user).get("/portal/").status_code == 200

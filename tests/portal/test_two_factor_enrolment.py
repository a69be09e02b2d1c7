"""Enrolling a TOTP app (QR code drawn on the server, the secret for manual entry, a first code),
the recovery codes (shown once, each used once, renewed), and disabling (for users who may)."""

from __future__ import annotations

import re
from base64 import b32decode

import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import AuditEvent, User
from portal.security import SecurityEvent
from tests.support.clients import client_for, otp_code, totp_device, unverified_client
from tests.support.world import World


def _events(user: User, event: SecurityEvent) -> int:
    return AuditEvent.objects.filter(action=event.value, object_id=str(user.pk)).count()


def _code_for_secret(secret: str) -> str:
    return f"{TOTP(b32decode(secret)).token():06d}"


def _enrol(client: object, next_url: str = "") -> tuple[list[str], object]:
    page = client.get(reverse("two_factor"), {"next": next_url} if next_url else {})  # type: ignore[attr-defined]
    html = page.content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7=]+)<', html).group(1)  # type: ignore[union-attr]
    device = re.search(r'name="device" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    response = client.post(  # type: ignore[attr-defined]
        reverse("two_factor_confirm"),
        {"device": device, "code": _code_for_secret(secret), "next": next_url},
    )
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    return codes, response


def test_the_enrolment_page_draws_the_qr_code_inline_and_shows_the_secret(world: World) -> None:
    client = unverified_client(world.staff["arbiter"])
    page = client.get(reverse("two_factor"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and 'class="qr-code"' in html
    assert "data:image" not in html and "<img" not in html
    assert re.search(r'data-testid="totp-secret">[A-Z2-7]{32}<', html)
    # The same device until it is confirmed: reloading does not pile up devices.
    client.get(reverse("two_factor"))
    assert TOTPDevice.objects.filter(user=world.staff["arbiter"], confirmed=False).count() == 1


def test_an_arbiter_enrols_sees_ten_recovery_codes_once_and_reaches_the_back_office(
    world: World,
) -> None:
    arbiter = world.staff["arbiter"]
    client = unverified_client(arbiter)
    codes, response = _enrol(client, next_url="/backoffice/")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'href="/backoffice/"' in response.content.decode()  # type: ignore[attr-defined]
    assert client.get("/backoffice/").status_code == 200  # the enrolment verified the session
    assert _events(arbiter, SecurityEvent.TWO_FACTOR_ENROLLED) == 1
    status = client.get(reverse("two_factor")).content.decode()
    assert "Il vous reste 10 codes de secours" in status
    assert not any(code in status for code in codes)  # shown once
    # An insurer user may not turn it off: no form is offered and the action is refused.
    assert "Désactiver la double authentification" not in status


def test_a_wrong_first_code_keeps_the_device_unconfirmed(world: World) -> None:
    arbiter = world.staff["arbiter"]
    client = unverified_client(arbiter)
    html = client.get(reverse("two_factor")).content.decode()
    device = re.search(r'name="device" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    response = client.post(reverse("two_factor_confirm"), {"device": device, "code": "12"})
    assert response.status_code == 400
    assert "Code incorrect" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=arbiter, confirmed=True).exists()
    assert _events(arbiter, SecurityEvent.TWO_FACTOR_FAILED) == 1


def test_a_recovery_code_signs_in_once(world: World) -> None:
    arbiter = world.staff["arbiter"]
    codes, _ = _enrol(unverified_client(arbiter))
    first = unverified_client(arbiter)
    response = first.post(reverse("two_factor_verify"), {"code": codes[0].upper()})
    assert response.status_code == 302
    assert first.get("/backoffice/").status_code == 200
    assert _events(arbiter, SecurityEvent.RECOVERY_CODE_USED) == 1
    assert StaticToken.objects.filter(device__user=arbiter).count() == 9
    again = unverified_client(arbiter)
    refused = again.post(reverse("two_factor_verify"), {"code": codes[0]})
    assert refused.status_code == 400
    assert again.get("/backoffice/").status_code == 302


def test_renewed_recovery_codes_replace_the_old_ones(world: World) -> None:
    arbiter = world.staff["arbiter"]
    client = unverified_client(arbiter)
    old, _ = _enrol(client)
    response = client.post(reverse("two_factor_recovery_codes"))
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert _events(arbiter, SecurityEvent.RECOVERY_CODES_RENEWED) == 1
    refused = unverified_client(arbiter).post(reverse("two_factor_verify"), {"code": old[1]})
    assert refused.status_code == 400


def test_renewing_needs_a_verified_session(world: World) -> None:
    arbiter = world.staff["arbiter"]
    totp_device(arbiter)
    response = unverified_client(arbiter).post(reverse("two_factor_recovery_codes"))
    assert response["Location"].startswith(reverse("two_factor_verify"))
    assert _events(arbiter, SecurityEvent.RECOVERY_CODES_RENEWED) == 0


def test_an_enrolled_user_who_has_not_given_the_code_does_not_see_the_status(
    world: World,
) -> None:
    arbiter = world.staff["arbiter"]
    totp_device(arbiter)
    response = unverified_client(arbiter).get(reverse("two_factor"))
    assert response["Location"].startswith(reverse("two_factor_verify"))


def test_a_policyholder_user_enrols_voluntarily_and_disables_with_a_code(world: World) -> None:
    user = world.alice.credit_manager
    client = client_for(user)
    assert "Facultative" in client.get(reverse("two_factor")).content.decode()
    _enrol(client)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    wrong = client.post(reverse("two_factor_disable"), {"code": "abcdefgh"})
    assert wrong.status_code == 400
    assert TOTPDevice.objects.filter(user=user).exists()
    # (the failure backed the recovery codes off; the app's codes are another device)
    done = client.post(reverse("two_factor_disable"), {"code": otp_code(device)})
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert _events(user, SecurityEvent.TWO_FACTOR_DISABLED) == 1
    assert client.get("/portal/").status_code == 200
    assert unverified_client(user).get("/portal/").status_code == 200


@pytest.mark.parametrize("who", ["arbiter", "required_policyholder"])
def test_a_user_who_must_use_two_factor_cannot_disable_it(world: World, who: str) -> None:
    if who == "arbiter":
        user = world.staff["arbiter"]
    else:
        user = world.alice.credit_manager
        type(world.alice.organisation).objects.filter(pk=world.alice.organisation.pk).update(
            two_factor_required=True
        )
    device = totp_device(user)
    response = client_for(user).post(reverse("two_factor_disable"), {"code": otp_code(device)})
    assert response.status_code == 400
    assert "obligatoire" in response.content.decode()
    assert TOTPDevice.objects.filter(user=user).exists()
    assert _events(user, SecurityEvent.TWO_FACTOR_DISABLED) == 0


def test_the_account_menu_links_to_the_page(world: World) -> None:
    html = client_for(world.alice.credit_manager).get("/portal/").content.decode()
    assert f'href="{reverse("two_factor")}"' in html

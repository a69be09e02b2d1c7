"""In real headless Chromium: an arbiter enrols a TOTP app at first sign-in (QR code, secret,
first code, recovery codes), signs out, and signs in again with the password then a code."""

from __future__ import annotations

import time
from base64 import b32decode
from typing import TYPE_CHECKING

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.live_server_helper import LiveServer

from portal.models import AuditEvent
from portal.security import SecurityEvent
from tests.support.browser import sign_in
from tests.support.clients import otp_code
from tests.support.factories import PASSWORD
from tests.support.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_arbiter_enrols_totp_signs_out_and_signs_in_with_a_code(
    world: World, live_server: LiveServer, browser_page: Page
) -> None:
    page = browser_page
    base = live_server.url
    arbiter = world.staff["arbiter"]

    # First sign-in: the password, then the enrolment before anything else.
    sign_in(page, base, arbiter.username, PASSWORD, two_factor=False)
    assert page.url.startswith(f"{base}/account/two-factor/?next=")
    assert page.locator("[data-testid=totp-qr] svg").count() == 1
    secret = page.locator("[data-testid=totp-secret]").inner_text().strip()
    code = f"{TOTP(b32decode(secret)).token():06d}"
    page.fill("#id_code", code)
    page.click("button[type=submit].primary")
    page.wait_for_selector("[data-testid=recovery-codes]")
    assert page.locator("[data-testid=recovery-codes] li").count() == 10
    page.click("[data-testid=two-factor-continue]")
    page.wait_for_url(f"{base}/backoffice/")
    assert "Back-office arbitrage" in page.locator("[data-testid=home-title]").inner_text()

    # Sign out, then back in: the password alone does not open the back office.
    page.click("text=Se déconnecter")
    page.wait_for_url(f"{base}/login/")
    sign_in(page, base, arbiter.username, PASSWORD, two_factor=False)
    assert "/account/two-factor/verify/" in page.url
    page.goto(f"{base}/backoffice/")
    assert "/account/two-factor/verify/" in page.url

    # A wrong code is refused on the field, in French.
    device = TOTPDevice.objects.get(user=arbiter, confirmed=True)
    assert TOTP(b32decode(secret)).token() == TOTP(device.bin_key).token()  # the page's secret
    right = otp_code(device)
    page.fill("#id_code", "000000" if right != "000000" else "111111")
    page.click("button[type=submit].primary")
    page.wait_for_selector(".errorlist")
    assert "Code incorrect" in page.locator(".errorlist").inner_text()

    time.sleep(1.2)  # django-otp backs off one second after a failure
    page.fill("#id_code", otp_code(device))
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/backoffice/")
    assert "Back-office arbitrage" in page.locator("[data-testid=home-title]").inner_text()
    recorded = set(
        AuditEvent.objects.filter(object_id=str(arbiter.pk)).values_list("action", flat=True)
    )
    assert {
        SecurityEvent.TWO_FACTOR_ENROLLED.value,
        SecurityEvent.TWO_FACTOR_FAILED.value,
        SecurityEvent.TWO_FACTOR_VERIFIED.value,
    } <= recorded

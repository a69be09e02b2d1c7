"""Playwright helpers: Debian's Chromium, never a downloaded browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.support.clients import otp_code, totp_device
from tests.support.factories import PASSWORD

if TYPE_CHECKING:  # Playwright itself is imported when a browser is launched.
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Headless Chromium; Playwright's sync API runs an event loop in this thread, the ORM
    calls made by the test itself are synchronous and safe."""
    require_chromium()
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def sign_in(
    page: Page, base_url: str, username: str, password: str, *, two_factor: bool = True
) -> None:
    """The login form; then, for a user who signs in with a second factor (every insurer user),
    the code page, with a code of their test device (created if they have none). With
    `two_factor=False` the test handles what follows the password itself."""
    device = _two_factor_device(username) if two_factor else None
    page.goto(f"{base_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    if device is not None and "/account/two-factor/verify/" in page.url:
        page.fill("#id_code", otp_code(device))
        with page.expect_navigation():
            page.click("button[type=submit].primary")


def _two_factor_device(username: str) -> TOTPDevice | None:
    from portal import policy
    from portal.models import User

    user = User.objects.select_related("organisation").filter(username=username).first()
    if user is None or not user.is_active:
        return None
    if policy.two_factor_required(user) or user_has_device(user):
        return totp_device(user)
    return None


def login(chromium: Browser, base: str, email: str) -> Page:
    """A new French page in its own context, signed in and on the user's home page."""
    page = chromium.new_context(locale="fr-FR").new_page()
    page.set_default_timeout(10_000)
    sign_in(page, base, email, PASSWORD)
    page.wait_for_selector("[data-testid=home-title]")
    return page

"""In real headless Chromium: every role signs in through the form and lands on its home."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pytest_django.live_server_helper import LiveServer

from tests.support.browser import sign_in
from tests.support.factories import PASSWORD
from tests.support.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLE_HOMES = [
    ("credit_manager", "/portal/", "Tableau de bord"),
    ("finance", "/portal/", "Tableau de bord"),
    ("org_admin", "/portal/", "Tableau de bord"),
    ("broker", "/broker/", "Mes clients"),
    ("arbiter", "/backoffice/", "Back-office arbitrage"),
    ("senior_arbiter", "/backoffice/", "Back-office arbitrage"),
    ("claims_handler", "/backoffice/", "Back-office arbitrage"),
    ("finance_ops", "/finance/", "Finance"),
]


def test_every_role_signs_in_and_lands_on_its_home_page(
    world: World, live_server: LiveServer, browser_page: Page
) -> None:
    page = browser_page
    base = live_server.url
    for role, path, title in ROLE_HOMES:
        if role == "broker":
            user = world.broker_user
        elif role in world.staff:
            user = world.staff[role]
        else:
            user = world.alice.users[role]
        sign_in(page, base, user.username, PASSWORD)
        page.wait_for_url(f"{base}{path}")
        heading = page.locator("[data-testid=home-title]").inner_text()
        assert title in heading, (role, heading)
        assert user.get_full_name() in page.locator("[data-testid=who]").inner_text()
        page.click("text=Se déconnecter")
        page.wait_for_url(f"{base}/login/")


def test_a_wrong_password_keeps_the_visitor_on_the_login_page(
    world: World, live_server: LiveServer, browser_page: Page
) -> None:
    page = browser_page
    base = live_server.url
    sign_in(page, base, world.alice.credit_manager.username, "not-the-password")
    assert page.url.startswith(f"{base}/login/")
    assert page.locator(".errorlist").count() >= 1

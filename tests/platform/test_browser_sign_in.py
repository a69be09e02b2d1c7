"""In real headless Chromium: every role signs in through the form and lands on its home."""

from __future__ import annotations

import pytest

from tests.support.browser import sign_in
from tests.support.factories import PASSWORD
from tests.support.world import World

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
    world: World, live_server: object, browser_page: object
) -> None:
    page = browser_page
    base = live_server.url  # type: ignore[attr-defined]
    for role, path, title in ROLE_HOMES:
        if role == "broker":
            user = world.broker_user
        elif role in world.staff:
            user = world.staff[role]
        else:
            user = world.alice.users[role]
        sign_in(page, base, user.username, PASSWORD)
        page.wait_for_url(f"{base}{path}")  # type: ignore[attr-defined]
        heading = page.locator("[data-testid=home-title]").inner_text()  # type: ignore[attr-defined]
        assert title in heading, (role, heading)
        assert user.get_full_name() in page.locator("[data-testid=who]").inner_text()  # type: ignore[attr-defined]
        page.click("text=Se déconnecter")  # type: ignore[attr-defined]
        page.wait_for_url(f"{base}/login/")  # type: ignore[attr-defined]


def test_a_wrong_password_keeps_the_visitor_on_the_login_page(
    world: World, live_server: object, browser_page: object
) -> None:
    page = browser_page
    base = live_server.url  # type: ignore[attr-defined]
    sign_in(page, base, world.alice.credit_manager.username, "not-the-password")
    assert page.url.startswith(f"{base}/login/")  # type: ignore[attr-defined]
    assert page.locator(".errorlist").count() >= 1  # type: ignore[attr-defined]

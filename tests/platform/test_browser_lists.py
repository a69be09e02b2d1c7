"""In Chromium: a list's whole row opens the row's page, sorting and filtering stay in the
address, an export downloads what is filtered, and axe-core finds no WCAG 2.1 A/AA violation on
a filtered list, its empty state and the English page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from pytest_django.live_server_helper import LiveServer

from tests.support.browser import login
from tests.support.factories import BuyerFactory
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import GuaranteeRequest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture
def requests(world: World) -> list[GuaranteeRequest]:
    """Rows are written before Chromium starts (Playwright's greenlet and the ORM)."""
    made = []
    for name, top_up in (("Rangée Alpha", "12000"), ("Rangée Beta", "30000")):
        with scopes_disabled():
            buyer = BuyerFactory.create(name=name)
        made.append(submit(world.alice, buyer, top_up=top_up))
    return made


def _violations(page: Page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state()
    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": WCAG_21_AA},
            "resultTypes": ["violations"],
        },
    )
    return [
        f"{violation['id']}: " + "; ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
    ]


def test_a_row_opens_its_request_and_the_list_keeps_its_filters(
    world: World, requests: list[GuaranteeRequest], live_server: LiveServer, chromium: Browser
) -> None:
    base = live_server.url.replace("localhost", "127.0.0.1")
    page = login(chromium, base, world.alice.credit_manager.email)
    page.goto(f"{base}{reverse('request_list')}")
    assert _violations(page) == []

    # Sorting by the requested top-up, largest first: two clicks on its header.
    for _ in range(2):
        with page.expect_navigation():
            page.click("[data-testid=sort-requested_top_up]")
    assert "sort=-requested_top_up" in page.url
    rows = page.locator("[data-testid=list-row]")
    assert "Rangée Beta" in rows.nth(0).inner_text()

    page.fill("#id_q", "alpha")
    with page.expect_navigation():
        page.click("[data-testid=list-filters] button[type=submit]")
    assert "q=alpha" in page.url and "sort=-requested_top_up" in page.url
    assert rows.count() == 1
    assert _violations(page) == []

    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    content = download.value.path().read_text(encoding="utf-8-sig")
    assert "Rangée Alpha" in content and "Rangée Beta" not in content

    # A click anywhere on the row (here on the amount, not on the link) opens the request.
    # The link's stretched area covers the cell (Playwright sees it "intercept" the click), so
    # the mouse goes where a user would click.
    box = rows.nth(0).locator("td.num").first.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(f"**{reverse('request_detail', args=[requests[0].pk])}")


def test_the_empty_and_english_lists_have_no_accessibility_violation(
    world: World, live_server: LiveServer, chromium: Browser
) -> None:
    base = live_server.url.replace("localhost", "127.0.0.1")
    page = login(chromium, base, world.bob.credit_manager.email)
    for name in ("request_list", "guarantee_list", "claim_list", "study_list", "notifications"):
        page.goto(f"{base}{reverse(name)}?q=personne")
        assert page.locator("[data-testid=list-clear]").count() == 1
        assert _violations(page) == [], name
    # What the language switch (/i18n/setlang/) leaves behind.
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.goto(f"{base}{reverse('request_list')}")
    assert page.get_attribute("html", "lang") == "en"
    assert _violations(page) == []

"""In Chromium: an arbiter imports a BODACC file and a grade file on the back-office page; the
exposed wholesaler then sees the alert badge in the header, its alerts, and the grade chart on
the buyer page. Bob, not exposed, sees no badge."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from pytest_django.live_server_helper import LiveServer

from tests.support.browser import login
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.monitoring import RECEIVERSHIP, grades_csv, json_lines, notice
from tests.support.world import World
from underwriting.models import Buyer

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def buyer(world: World) -> Buyer:
    """Written before Chromium starts (Playwright's greenlet would hold a connection)."""
    buyer = BuyerFactory.create(name="Revendeur Surveillé", grade=8)
    GuaranteeFactory.create(
        contract=world.alice.contract, buyer=buyer, period=DateRange(date(2026, 1, 1), None, "[)")
    )
    connection.close()
    return buyer


def _import(page: Page, base: str, kind: str, path: Path) -> None:
    page.goto(f"{base}/backoffice/monitoring/import/")
    page.check(f"input[name=kind][value={kind}]")
    page.set_input_files("input[name=file]", str(path))
    page.click("[data-testid=import-form] button[type=submit]")
    page.wait_for_selector("[data-testid=file-counters]")


def test_an_import_reaches_the_exposed_wholesaler(
    world: World, buyer: Buyer, live_server: LiveServer, chromium: Browser, tmp_path: Path
) -> None:
    base = live_server.url.replace("localhost", "127.0.0.1")
    notices = tmp_path / "bodacc.jsonl"
    notices.write_bytes(
        json_lines(
            notice(1, siren=buyer.siren, nature=RECEIVERSHIP, judged_on="2026-11-20"),
            '{"broken": ',
        )
    )
    grades = tmp_path / "notes.csv"
    grades.write_bytes(
        grades_csv(
            (buyer.siren, "2026-06-01", 7, "Agence"),
            (buyer.siren, "2026-11-02", 4, "Agence"),
        )
    )

    arbiter = login(chromium, base, world.staff["arbiter"].email)
    _import(arbiter, base, "bodacc", notices)
    assert arbiter.inner_text("[data-testid=count-records]") == "1"
    assert arbiter.inner_text("[data-testid=count-alerts]") == "1"
    assert arbiter.inner_text("[data-testid=count-problems]") == "1"
    assert "2" in arbiter.inner_text("main")  # the rejected line is named by its number
    _import(arbiter, base, "grades", grades)
    assert arbiter.inner_text("[data-testid=count-alerts]") == "1"  # 7 → 4 is a fall of 3

    wholesaler = login(chromium, base, world.alice.credit_manager.email)
    badge = wholesaler.locator("[data-testid=unread-count]")
    assert int(badge.inner_text()) >= 2
    wholesaler.click("[data-testid=nav-alerts]")
    alerts = wholesaler.inner_text("main")
    assert "Revendeur Surveillé" in alerts and "redressement" in alerts.lower()
    wholesaler.click("text=Revendeur Surveillé >> nth=0")
    chart = wholesaler.locator("[data-testid=grade-chart-figure] svg")
    chart.wait_for()
    assert chart.count() == 1
    points = wholesaler.locator("[data-testid=grade-chart-figure] svg circle.grade-point")
    assert points.count() >= 2

    bob = login(chromium, base, world.bob.credit_manager.email)
    assert bob.locator("[data-testid=unread-count]").count() == 0

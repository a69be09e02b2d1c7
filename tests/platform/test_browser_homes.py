"""In Chromium: the wholesaler's, the broker's and the arbiters' home pages show figures that
match the database. The expected figures are computed here from the rows themselves, in Python,
not through the dashboards' aggregate queries."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone, translation
from django_scopes import scopes_disabled
from pytest_django.live_server_helper import LiveServer

from portal.models import Role
from portal.money import eur
from portal.timeutils import business_today
from tests.support.browser import login
from tests.support.factories import (
    BuyerFactory,
    GuaranteeFactory,
    GuaranteeRequestFactory,
    MandateFactory,
)
from tests.support.world import Tenant, World
from underwriting.models import (
    OPEN_STATUSES,
    CountersignatureState,
    Guarantee,
    GuaranteeRequest,
    PendingDecision,
    RequestStatus,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def french(amount: Decimal) -> str:
    with translation.override("fr"):
        return eur(amount)


@dataclass
class Expected:
    exposure: Decimal = Decimal(0)
    primary: Decimal = Decimal(0)
    top_up: Decimal = Decimal(0)
    # The chart draws the periods only: the primary beside a top-up in force.
    charted: Decimal = Decimal(0)
    # Exposure − primary − top-up of each position.
    gaps: list[Decimal] = field(default_factory=list)


def expected_cover(policyholder_id: UUID) -> Expected:
    """Positions read row by row: a top-up period in force today gives its exposure, primary and
    top-up; an open request on a buyer without one gives its exposure and primary."""
    today = business_today()
    with scopes_disabled():
        periods = [
            period
            for period in Guarantee.objects.filter(policyholder_id=policyholder_id)
            if period.period.lower <= today
            and (period.period.upper is None or today < period.period.upper)
        ]
        requests = list(
            GuaranteeRequest.objects.filter(
                policyholder_id=policyholder_id, status__in=OPEN_STATUSES
            )
        )
    covered = {(period.contract_id, period.buyer_id) for period in periods}
    result = Expected()
    for period in periods:
        result.exposure += period.exposure or 0
        result.primary += period.primary_amount
        result.top_up += period.amount
        result.charted += period.primary_amount + period.amount
        result.gaps.append((period.exposure or 0) - period.primary_amount - period.amount)
    for request in requests:
        if (request.contract_id, request.buyer_id) not in covered:
            result.exposure += request.exposure
            result.primary += request.primary_amount
            result.gaps.append(request.exposure - request.primary_amount)
    return result


def _cover(tenant: Tenant, top_up: str, primary: str, exposure: str, **fields: object) -> None:
    GuaranteeFactory.create(
        contract=tenant.contract,
        amount=Decimal(top_up),
        primary_amount=Decimal(primary),
        exposure=Decimal(exposure),
        period=fields.pop("period", DateRange(business_today() - timedelta(days=60), None)),
        **fields,
    )


@pytest.fixture
def book(world: World) -> World:
    """Rows written before Chromium starts (Playwright's greenlet would otherwise hold a
    database connection past the end of the test)."""
    today = business_today()
    with scopes_disabled():
        shared = BuyerFactory.create(name="Revendeur partagé")
        _cover(world.alice, "40000", "100000", "200000", buyer=shared)
        _cover(world.alice, "25000", "50000", "120000")
        _cover(
            world.alice,
            "30000",
            "40000",
            "90000",
            buyer=BuyerFactory.create(name="Revendeur saisonnier"),
            period=DateRange(today - timedelta(days=20), today + timedelta(days=15)),
        )
        _cover(world.bob, "60000", "80000", "150000", buyer=shared)
        GuaranteeRequestFactory.create(
            contract=world.alice.contract,
            exposure=Decimal("70000"),
            primary_amount=Decimal("20000"),
        )
        late = GuaranteeRequestFactory.create(
            contract=world.bob.contract,
            submitted_at=timezone.now() - timedelta(days=4),
            status=RequestStatus.AWAITING_COUNTERSIGNATURE,
            requested_top_up=Decimal("120000"),
            exposure=Decimal("400000"),
            primary_amount=Decimal("100000"),
        )
        PendingDecision.objects.create(
            request=late,
            policyholder=late.policyholder,
            outcome="approved",
            amount=Decimal("120000"),
            proposed_by=world.staff[Role.ARBITER],
            proposed_at=timezone.now(),
            state=CountersignatureState.PENDING,
        )
        MandateFactory.create(broker=world.broker, policyholder=world.bob.organisation)
    return world


def base_url(live_server: LiveServer) -> str:
    # An IP address: Chromium does not try to upgrade it to https.
    return live_server.url.replace("localhost", "127.0.0.1")


def screenshot(page: Page, name: str) -> None:
    """With UNLOCKPLUS_SCREENSHOTS=<folder> (as `make screenshots` sets it), the filled home
    page at 1366×900 as `<name>.png`."""
    folder = os.environ.get("UNLOCKPLUS_SCREENSHOTS")
    if folder:
        page.set_viewport_size({"width": 1366, "height": 900})
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def assert_accessible(page: Page) -> None:
    """axe-core over the whole page, filled with figures: no WCAG 2.1 A/AA violation."""
    # Imported by name: the library ships no types (mypy reads it as Any either way).
    axe = import_module("axe_playwright_python.sync_playwright").Axe()
    results = axe.run(
        page,
        options={
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            "resultTypes": ["violations"],
        },
    )
    found = [
        f"{violation['id']}: " + "; ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
    ]
    assert not found, found


def text(page: Page, selector: str) -> str:
    return page.inner_text(selector).strip()


def test_the_wholesaler_dashboard_matches_the_database(
    book: World, live_server: LiveServer, chromium: Browser
) -> None:
    expected = expected_cover(book.alice.organisation.pk)
    page = login(chromium, base_url(live_server), book.alice.credit_manager.email)

    assert text(page, "[data-testid=kpi-exposure]") == french(expected.exposure)
    assert text(page, "[data-testid=kpi-primary]") == french(expected.primary)
    assert text(page, "[data-testid=kpi-top-up]") == french(expected.top_up)
    total = expected.primary + expected.top_up
    assert text(page, "[data-testid=kpi-total]") == french(total)
    ratio = (total * 100 / expected.exposure).quantize(Decimal("0.1"))
    assert text(page, "[data-testid=kpi-ratio]").startswith(f"{ratio}".replace(".", ","))
    # Requests: one open; the seasonal top-up ends within 30 days.
    assert text(page, "[data-testid=open-open]").startswith("1 ")
    assert page.locator("[data-testid=ending-row]").count() == 1
    assert "Revendeur saisonnier" in text(page, "[data-testid=ending]")
    # The chart's last bar is today's cover on the buyers with a top-up in force.
    last_bar = page.locator("[data-testid=cover-chart] .cover-bar").last
    assert Decimal(last_bar.get_attribute("data-total") or "0") == expected.charted
    # The position left the most uncovered comes first.
    first = page.locator("[data-testid=uncovered-row]").first
    assert first.locator("[data-testid=uncovered-amount]").inner_text().strip() == french(
        max(expected.gaps)
    )
    assert page.locator("[data-testid=uncovered-row]").count() == sum(
        1 for gap in expected.gaps if gap > 0
    )
    assert_accessible(page)
    screenshot(page, "credit_manager-home-filled-fr")


def test_the_broker_home_has_one_matching_row_per_client_and_asks_for_each(
    book: World, live_server: LiveServer, chromium: Browser
) -> None:
    page = login(chromium, base_url(live_server), book.broker_user.email)

    rows = page.locator("[data-testid=client-row]")
    assert rows.count() == 2
    for tenant in (book.alice, book.bob):
        expected = expected_cover(tenant.organisation.pk)
        row = page.locator(f"[data-policyholder='{tenant.organisation.pk}']")
        assert row.locator("[data-testid=client-exposure]").inner_text() == french(
            expected.exposure
        )
        assert row.locator("[data-testid=client-top-up]").inner_text() == french(expected.top_up)
        assert row.locator("[data-testid=client-primary]").inner_text() == french(expected.primary)
    assert_accessible(page)
    screenshot(page, "broker-home-filled-fr")
    # Asking for a top-up on behalf of bob opens bob's buyer search.
    page.locator(
        f"[data-policyholder='{book.bob.organisation.pk}'] [data-testid=client-new-request]"
    ).click()
    page.wait_for_url(f"**/contracts/{book.bob.contract.pk}/buyers/**")


def test_the_arbiter_and_senior_homes_match_the_database(
    book: World, live_server: LiveServer, chromium: Browser
) -> None:
    now = timezone.now()
    with scopes_disabled():
        open_requests = list(GuaranteeRequest.objects.filter(status__in=OPEN_STATUSES))
        in_force = [
            period
            for period in Guarantee.objects.all()
            if period.period.lower <= business_today()
            and (period.period.upper is None or business_today() < period.period.upper)
        ]
    by_buyer: dict[UUID, Decimal] = {}
    for period in in_force:
        by_buyer[period.buyer_id] = by_buyer.get(period.buyer_id, Decimal(0)) + period.amount
    largest = max(by_buyer.values())
    base = base_url(live_server)

    arbiter = login(chromium, base, book.staff[Role.ARBITER].email)
    count = lambda name: int(text(arbiter, f"[data-testid=count-{name}] .kpi-value"))  # noqa: E731
    assert count("open") == len(open_requests)
    assert count("overdue") == sum(1 for request in open_requests if request.due_at < now)
    assert count("unassigned") == sum(
        1 for request in open_requests if request.assigned_to_id is None
    )
    first = arbiter.locator("[data-testid=exposure-row]").first
    assert first.locator("[data-testid=exposure-top-up]").inner_text() == french(largest)
    assert "Revendeur partagé" in first.inner_text()
    assert_accessible(arbiter)
    screenshot(arbiter, "arbiter-home-filled-fr")

    senior = login(chromium, base, book.staff[Role.SENIOR_ARBITER].email)
    assert senior.locator("[data-testid=to-countersign-row]").count() == 1
    assert int(text(senior, "[data-testid=count-to-countersign] .kpi-value")) == 1
    assert_accessible(senior)
    screenshot(senior, "senior_arbiter-home-filled-fr")
    senior.click("[data-testid=nav-queue]")
    assert senior.locator("[data-testid=queue-open]").count() == 1

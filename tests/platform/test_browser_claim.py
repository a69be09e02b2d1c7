"""In Chromium: the wholesaler declares an unpaid invoice; the claims handler starts recovery,
records the primary's settlement, computes the top-up indemnity (the seed case: loss 100 000,
P 40 000, T 40 000, q 90 % → 36 000,00 €), approves and pays it; the wholesaler sees the paid
indemnity and downloads the statement PDF."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from pytest_django.live_server_helper import LiveServer

from portal.models import Role
from tests.support.browser import login
from tests.support.claims import covered_buyer, no_waiting, recently_due
from tests.support.world import World
from underwriting.models import Buyer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def digits(text: str) -> str:
    return re.sub(r"[^\d,]", "", text)


@pytest.fixture
def buyer(world: World) -> Buyer:
    """Written before Chromium starts (Playwright's greenlet would hold a connection)."""
    no_waiting(world.alice)
    handler = world.staff[Role.CLAIMS_HANDLER]
    handler.authority_amount = Decimal("100000")
    handler.save(update_fields=["authority_amount"])
    buyer = covered_buyer(world.alice)
    connection.close()
    return buyer


def _act(page: Page, name: str, **fields: str) -> None:
    form = page.locator(f"[data-testid=action-{name}]")
    for field, value in fields.items():
        form.locator(f"[name={name}-{field}]").fill(value)
    form.locator(f"[data-testid=do-{name}]").click()
    page.wait_for_load_state()


def test_a_claim_from_declaration_to_paid_indemnity(
    world: World, buyer: Buyer, live_server: LiveServer, chromium: Browser
) -> None:
    base = live_server.url.replace("localhost", "127.0.0.1")
    delivered = recently_due()
    due = delivered + timedelta(days=60)

    wholesaler = login(chromium, base, world.alice.credit_manager.email)
    wholesaler.click("[data-testid=nav-claims]")
    wholesaler.goto(f"{base}/claims/new/")
    wholesaler.click(f"[data-testid=claim-buyer-{buyer.siren}]")
    row = wholesaler.locator("[data-testid=invoice-row-0]")
    row.locator("[name=invoices-0-number]").fill("F2026-0142")
    row.locator("[name=invoices-0-amount]").fill("100 000,00")
    row.locator("[name=invoices-0-invoice_date]").fill(delivered.isoformat())
    row.locator("[name=invoices-0-delivery_date]").fill(delivered.isoformat())
    row.locator("[name=invoices-0-due_date]").fill(due.isoformat())
    wholesaler.click("[data-testid=claim-declare-submit]")
    assert wholesaler.inner_text("[data-testid=claim-status]") == "Déclaré"
    assert "Couverte" in wholesaler.inner_text("[data-testid=claim-invoices]")
    claim_url = wholesaler.url

    handler = login(chromium, base, world.staff[Role.CLAIMS_HANDLER].email)
    handler.click("[data-testid=nav-claim-queue]")
    claim_id = claim_url.rstrip("/").rsplit("/", 1)[-1]
    handler.click(f"a[href='/backoffice/claims/{claim_id}/']")
    _act(handler, "recovery_start")
    _act(handler, "primary_settle", amount="36 000,00")
    _act(handler, "compute")
    assert digits(handler.inner_text("[data-testid=computation-amount]")) == "36000,00"
    _act(handler, "approve")
    _act(handler, "pay", reference="VIR-2026-0142")
    assert "payée" in handler.inner_text("[data-testid=claim-status]").lower()

    wholesaler.goto(claim_url)
    assert digits(wholesaler.inner_text("[data-testid=claim-indemnity]")) == "36000,00"
    statement = wholesaler.locator("[data-testid=claim-statement]").get_attribute("href")
    assert statement is not None
    pdf = wholesaler.request.get(base + statement)
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF")
    assert "pdf" in pdf.headers["content-type"]

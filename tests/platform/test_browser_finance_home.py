"""In Chromium: the finance ops home shows the last billed month's premium and the invoices to
collect and overdue as the database holds them (computed here from the rows, in Python, not
through the page's aggregate queries); the overdue figure leads to the overdue invoices, and a
payment typed the French way on an invoice settles it."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import translation
from django_scopes import scopes_disabled
from pytest_django.live_server_helper import LiveServer

from billing.models import Invoice, InvoiceKind, Payment
from billing.premium import month_before, month_first
from portal.money import eur
from portal.timeutils import business_today
from tests.support.browser import login
from tests.support.payments import due_days_ago, invoice_for
from tests.support.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def french(amount: Decimal) -> str:
    with translation.override("fr"):
        return eur(amount)


@pytest.fixture
def overdue(world: World) -> Invoice:
    """Last month billed for alice (overdue, partly paid) and bob (not yet due); rows are
    written before Chromium starts."""
    last = month_before(month_first(business_today()))
    late = due_days_ago(invoice_for(world.alice, "50000", month=last), 10)
    invoice_for(world.bob, "1000000", month=last)
    with scopes_disabled():
        Payment.objects.create(
            policyholder_id=late.policyholder_id,
            invoice=late,
            received_on=business_today(),
            amount=Decimal("10.00"),
            reference="VIR PARTIEL",
        )
    return late


def expected_figures() -> dict[str, Any]:
    last = month_before(month_first(business_today()))
    today = business_today()
    with scopes_disabled():
        invoices = list(Invoice.objects.filter(kind=InvoiceKind.INVOICE))
        billed = list(Invoice.objects.filter(month=last))
        paid: dict[object, Decimal] = {}
        for payment in Payment.objects.all():
            paid[payment.invoice_id] = paid.get(payment.invoice_id, Decimal(0)) + payment.amount
    balances = {i.pk: i.total - paid.get(i.pk, Decimal(0)) for i in invoices}
    open_ = [i for i in invoices if balances[i.pk] > 0]
    late = [i for i in open_ if i.due_on < today]
    return {
        "premium": sum((i.premium_total + i.minimum_adjustment for i in billed), Decimal(0)),
        "open_count": len(open_),
        "open_amount": sum((balances[i.pk] for i in open_), Decimal(0)),
        "overdue_count": len(late),
        "overdue_amount": sum((balances[i.pk] for i in late), Decimal(0)),
    }


def test_the_finance_home_matches_the_database_and_leads_to_the_overdue_invoice(
    world: World, overdue: Invoice, live_server: LiveServer, chromium: Browser
) -> None:
    figures = expected_figures()
    assert figures["overdue_count"] == 1  # the arrangement holds what the test is about
    base = live_server.url.replace("localhost", "127.0.0.1")
    page = login(chromium, base, world.staff["finance_ops"].email)
    assert page.url.endswith("/finance/")
    text = page.inner_text
    assert text("[data-testid=premium-month-total]") == french(figures["premium"])
    assert text("[data-testid=open-amount]") == french(figures["open_amount"])
    assert text("[data-testid=open-count]").startswith(f"{figures['open_count']} factures")
    assert text("[data-testid=overdue-amount]") == french(figures["overdue_amount"])
    assert text("[data-testid=overdue-count]").startswith("1 facture échue")
    assert page.locator("[data-testid=premium-chart] .premium-bar").count() == 12

    page.click("[data-testid=overdue-invoices]")
    page.wait_for_selector("[data-testid=invoices]")
    numbers = page.locator("[data-testid=invoice-number]").all_inner_texts()
    assert numbers == [overdue.number]
    assert page.locator("[data-testid=invoice-overdue]").count() == 1

    page.click(f"text={overdue.number}")
    page.wait_for_selector("[data-testid=payment-form]")
    balance = overdue.total - Decimal("10.00")
    assert text("[data-testid=balance]") == french(balance)
    page.fill("#id_amount", french(balance).replace(" €", ""))
    page.fill("#id_reference", "VIR SOLDE")
    with page.expect_navigation():
        page.click("[data-testid=payment-form] button[type=submit]")
    assert text("[data-testid=payment-status]") == "Payée"
    assert text("[data-testid=balance]") == french(Decimal("0"))
    assert page.locator("[data-testid=payment-row]").count() == 2
    page.context.close()

"""Helpers for the payment tests: an issued invoice of a given total, and moving its due date."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django_scopes import scopes_disabled

from billing.models import Invoice
from portal.timeutils import business_today
from tests.support.billing import guarantee, issued, set_terms
from tests.support.factories import BuyerFactory
from tests.support.scopes import insurer_scope
from tests.support.world import Tenant

OCTOBER = date(2026, 10, 1)


def invoice_for(
    tenant: Tenant, amount: str = "50000", *, tax: bool = True, month: date = OCTOBER
) -> Invoice:
    """`tenant`'s invoice for `month` (October 2026 by default): `amount` in force all month at
    0.12 %, plus 9 % tax (50 000 → 60.00 + 5.40 = 65.40)."""
    contract = tenant.contract
    if tax:
        set_terms(contract, tax_rate=Decimal("0.0900"))
    guarantee(contract, BuyerFactory.create(), amount, date(2026, 1, 1))
    with insurer_scope():
        return issued(contract, month)


def due_days_ago(invoice: Invoice, days: int) -> Invoice:
    with scopes_disabled():  # arrangement: the named bypass
        Invoice.objects.filter(pk=invoice.pk).update(due_on=business_today() - timedelta(days=days))
        return Invoice.objects.get(pk=invoice.pk)

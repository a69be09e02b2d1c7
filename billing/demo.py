"""Demo invoices: the three months before today's are billed, each invoice dated as month-end
billing would have issued it (the 1st of the next month, due 30 days later), and the older
ones collected as a finance team would find them: most paid, one partly paid, one overdue;
last month's not due yet.

Premiums come from the demo guarantees (granted over the last months, so an invoice grows as
top-ups are added and only the thinnest months fall back to the minimum premium); a contract is
never billed for a month before it began (`selectors.contracts_to_bill`)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django_scopes import scopes_disabled

from billing.models import BillingRun, BillingRunTrigger, Invoice, InvoiceKind, Payment
from billing.premium import month_after, month_before, month_first
from billing.services import billing_run_create, billing_run_execute
from portal.money import money
from portal.timeutils import business_today

MONTHS_BILLED = 3


def previous_month(today: date) -> date:
    return month_before(month_first(today))


def _backdate(month: date) -> None:
    """The month's invoices as issued on the 1st of the next month (a demo built mid-month
    would otherwise show every invoice issued today and nothing overdue)."""
    issued_on = month_after(month)
    Invoice.objects.filter(month=month, kind=InvoiceKind.INVOICE).update(
        issued_on=issued_on,
        due_on=issued_on + timedelta(days=settings.BILLING_PAYMENT_TERM_DAYS),
    )


def _collect(month: date, *, oldest: bool) -> None:
    """Payments as a bank would have brought them: the oldest month paid but for one invoice
    never paid (overdue by now), the next one paid but for one invoice half paid."""
    invoices = list(
        Invoice.objects.filter(month=month, kind=InvoiceKind.INVOICE, payments__isnull=True)
        .order_by("contract_number")
        .distinct()
    )
    today = business_today()
    for index, invoice in enumerate(invoices):
        if oldest and index == len(invoices) - 1:
            continue  # never paid: overdue
        share = Decimal("0.5") if not oldest and index == 1 else Decimal(1)
        Payment.objects.create(
            policyholder_id=invoice.policyholder_id,
            invoice=invoice,
            received_on=min(today, invoice.due_on - timedelta(days=3 + index)),
            amount=money(invoice.total * share),
            reference=f"VIR SEPA {invoice.policyholder_name[:20].upper()} {invoice.number}",
        )


def build_demo_billing() -> None:
    """Bill each of the last months unless a run already did: building the demo twice changes
    nothing (the payments are made only on invoices that have none)."""
    last = previous_month(business_today())
    months = [last]
    while len(months) < MONTHS_BILLED:
        months.insert(0, month_before(months[0]))
    with scopes_disabled():
        for month in months:
            if BillingRun.objects.filter(month=month).exists():
                continue
            run = billing_run_create(month=month, trigger=BillingRunTrigger.COMMAND, actor=None)
            billing_run_execute(run_id=run.pk)
            _backdate(month)
            if month != last:
                _collect(month, oldest=month == months[0])

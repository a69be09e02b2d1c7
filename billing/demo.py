"""Demo invoices: the month before today is billed once, so finance has documents to open."""

from __future__ import annotations

from datetime import date

from django_scopes import scopes_disabled

from billing.models import BillingRun, BillingRunTrigger
from billing.services import billing_run_create, billing_run_execute
from portal.timeutils import business_today


def previous_month(today: date) -> date:
    first = today.replace(day=1)
    return (
        first.replace(year=first.year - 1, month=12)
        if first.month == 1
        else first.replace(month=first.month - 1)
    )


def build_demo_billing() -> None:
    """Bill last month unless a run already did: building the demo twice changes nothing."""
    month = previous_month(business_today())
    with scopes_disabled():
        if BillingRun.objects.filter(month=month).exists():
            return
        run = billing_run_create(month=month, trigger=BillingRunTrigger.COMMAND, actor=None)
        billing_run_execute(run_id=run.pk)

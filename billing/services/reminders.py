"""Reminders of unpaid invoices (issue 14): once per invoice, `INVOICE_REMINDER_DAYS_AFTER_DUE`
days after its due date, to the policyholder's finance users and organisation admins.

The reminder is an outbox delivery written in the same transaction that marks the invoice
(`reminder_sent_at`), so a run killed half-way, a second beat or two workers at once never send
one twice. A beat missed for a few days catches up: invoices up to `CATCH_UP_DAYS` later than
the reminder day are still reminded; older ones (the backlog when the feature starts) are not,
so a first run does not flood clients about invoices their finance team already discussed.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from billing import selectors
from billing.events import BillingEvent
from billing.models import Invoice, InvoiceKind
from portal.events import events_record_bulk
from portal.timeutils import business_today

CATCH_UP_DAYS = 30
GROUP = 200


def invoices_to_remind(*, today: date) -> list[str]:
    """Ids of the invoices whose reminder day has come, not yet reminded, with a balance."""
    last_due = today - timedelta(days=settings.INVOICE_REMINDER_DAYS_AFTER_DUE)
    invoices = Invoice.objects.filter(
        kind=InvoiceKind.INVOICE,
        reminder_sent_at__isnull=True,
        due_on__lte=last_due,
        due_on__gt=last_due - timedelta(days=CATCH_UP_DAYS),
    )
    return [
        str(pk)
        for pk in selectors.filter_by_status(invoices, "open")
        .order_by("due_on", "number")
        .values_list("pk", flat=True)
    ]


@transaction.atomic(durable=True)
def _remind(ids: list[str]) -> int:
    # Locked and checked again: whoever got here first marked them, the other skips them.
    invoices = list(
        Invoice.objects.select_for_update(skip_locked=True)
        .filter(pk__in=ids, reminder_sent_at__isnull=True)
        .order_by("number")
    )
    if not invoices:
        return 0
    invoices = [invoice for invoice in invoices if invoice.outstanding]
    now = timezone.now()
    for invoice in invoices:
        invoice.reminder_sent_at = now
    Invoice.objects.bulk_update(invoices, ["reminder_sent_at"])
    events_record_bulk(
        action=BillingEvent.INVOICE_REMINDED,
        actor=None,
        items=[
            (invoice, invoice.policyholder_id, {"balance": str(invoice.balance)})
            for invoice in invoices
        ],
    )
    return len(invoices)


def invoice_reminders_send(*, today: date | None = None) -> int:
    """Send the reminders due today (insurer-wide); returns how many went out."""
    today = today or business_today()
    sent = 0
    with scopes_disabled():  # every policyholder's invoices: the daily job is insurer-wide
        ids = invoices_to_remind(today=today)
        for start in range(0, len(ids), GROUP):
            sent += _remind(ids[start : start + GROUP])
    return sent

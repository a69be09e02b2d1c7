"""An unpaid invoice is reminded once, INVOICE_REMINDER_DAYS_AFTER_DUE days after its due date,
to its policyholder's finance users and organisation admin, through the outbox; amounts are
written as on the pages."""

from __future__ import annotations

from decimal import Decimal

from django_scopes import scopes_disabled
from pytest_django import Settings as SettingsWrapper

from billing import services
from billing.models import Invoice
from portal.models import Delivery, Notification
from portal.timeutils import business_today
from tests.support.payments import due_days_ago, invoice_for
from tests.support.scopes import insurer_scope
from tests.support.world import World


def reminders() -> list[Notification]:
    with scopes_disabled():
        return list(Notification.objects.filter(subject__startswith="Relance").order_by("pk"))


def test_an_unpaid_invoice_is_reminded_once_on_its_day(
    world: World, settings: SettingsWrapper
) -> None:
    settings.INVOICE_REMINDER_DAYS_AFTER_DUE = 15
    early = due_days_ago(invoice_for(world.bob), 14)
    invoice = due_days_ago(invoice_for(world.alice), 15)
    assert services.invoice_reminders_send() == 1
    assert services.invoice_reminders_send() == 0  # the next day's beat, or a second worker
    sent = reminders()
    recipients = {n.recipient for n in sent}
    assert recipients == {world.alice.finance, world.alice.users["org_admin"]}
    assert all(invoice.number in n.subject for n in sent)
    assert "Reste dû : 65,40\xa0€" in sent[0].body or "Reste dû : 65,40 €" in sent[0].body
    with scopes_disabled():
        assert Delivery.objects.filter(notification__in=sent).count() == 2
        assert Invoice.objects.get(pk=invoice.pk).reminder_sent_at is not None
        assert Invoice.objects.get(pk=early.pk).reminder_sent_at is None


def test_a_paid_invoice_is_not_reminded(world: World, settings: SettingsWrapper) -> None:
    settings.INVOICE_REMINDER_DAYS_AFTER_DUE = 15
    invoice = due_days_ago(invoice_for(world.alice), 20)
    with insurer_scope():
        services.payment_record(
            invoice=invoice,
            received_on=business_today(),
            amount=Decimal("65.40"),
            reference="",
            actor=world.staff["finance_ops"],
        )
    assert services.invoice_reminders_send() == 0
    assert reminders() == []

"""Finance ops record payments; an invoice is unpaid, partly paid or paid, and overdue when a
balance is left after its due date. Credit notes reduce the balance; overpayment is refused."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing import selectors, services
from billing.models import PaymentStatus
from portal.errors import Conflict, Forbidden, RuleViolation
from portal.timeutils import business_today
from tests.support.payments import due_days_ago, invoice_for
from tests.support.scopes import acting_as, insurer_scope
from tests.support.world import World


def test_payments_take_an_invoice_from_unpaid_to_partly_paid_to_paid(world: World) -> None:
    ops = world.staff["finance_ops"]
    invoice = invoice_for(world.alice)  # 65.40
    today = business_today()
    with insurer_scope():
        assert selectors.invoice_with_balance(invoice_id=invoice.pk).payment_status == "unpaid"
        services.payment_record(
            invoice=invoice, received_on=today, amount=Decimal("40"), reference="VIR 1", actor=ops
        )
        seen = selectors.invoice_with_balance(invoice_id=invoice.pk)
        assert (seen.paid, seen.balance, seen.payment_status) == (
            Decimal("40.00"),
            Decimal("25.40"),
            PaymentStatus.PARTLY_PAID,
        )
        services.payment_record(
            invoice=invoice, received_on=today, amount=Decimal("25.40"), reference="", actor=ops
        )
        seen = selectors.invoice_with_balance(invoice_id=invoice.pk)
    assert (seen.balance, seen.payment_status) == (Decimal("0.00"), PaymentStatus.PAID)


def test_it_refuses_more_than_the_balance_a_non_positive_amount_and_a_future_date(
    world: World,
) -> None:
    ops = world.staff["finance_ops"]
    invoice = invoice_for(world.alice)
    today = business_today()
    with insurer_scope():
        with pytest.raises(Conflict, match="65.40") as error:
            services.payment_record(
                invoice=invoice, received_on=today, amount=Decimal("65.41"), reference="", actor=ops
            )
        assert error.value.field == "amount"
        with pytest.raises(RuleViolation) as negative:
            services.payment_record(
                invoice=invoice, received_on=today, amount=Decimal("0"), reference="", actor=ops
            )
        assert negative.value.field == "amount"
        with pytest.raises(RuleViolation) as future:
            services.payment_record(
                invoice=invoice,
                received_on=today + timedelta(days=1),
                amount=Decimal("1"),
                reference="",
                actor=ops,
            )
        assert future.value.field == "received_on"
        assert not invoice.payments.exists()


def test_only_insurer_finance_ops_record_payments(world: World) -> None:
    invoice = invoice_for(world.alice)
    with acting_as(world.alice.finance), pytest.raises(Forbidden):
        services.payment_record(
            invoice=invoice,
            received_on=business_today(),
            amount=Decimal("1"),
            reference="",
            actor=world.alice.finance,
        )


def test_a_credit_note_reduces_the_balance_due(world: World) -> None:
    ops = world.staff["finance_ops"]
    invoice = invoice_for(world.alice)  # 65.40
    with insurer_scope():
        services.credit_note_issue(invoice=invoice, amount=Decimal("10"), reason="geste", actor=ops)
        seen = selectors.invoice_with_balance(invoice_id=invoice.pk)
        assert (seen.credited, seen.balance) == (Decimal("10.90"), Decimal("54.50"))
        with pytest.raises(Conflict):
            services.payment_record(
                invoice=invoice,
                received_on=business_today(),
                amount=Decimal("54.51"),
                reference="",
                actor=ops,
            )
        # Payments and several credit notes together: each counted once.
        services.payment_record(
            invoice=invoice,
            received_on=business_today(),
            amount=Decimal("4.50"),
            reference="",
            actor=ops,
        )
        services.credit_note_issue(invoice=invoice, amount=Decimal("20"), reason="x", actor=ops)
        seen = selectors.invoice_with_balance(invoice_id=invoice.pk)
        assert (seen.paid, seen.credited, seen.balance) == (
            Decimal("4.50"),
            Decimal("32.70"),
            Decimal("28.20"),
        )
        services.credit_note_issue(invoice=invoice, amount=Decimal("25.87"), reason="y", actor=ops)
        assert selectors.invoice_with_balance(invoice_id=invoice.pk).payment_status == "paid"


def test_an_invoice_with_a_balance_after_its_due_date_is_overdue(world: World) -> None:
    ops = world.staff["finance_ops"]
    invoice = due_days_ago(invoice_for(world.alice), 1)
    on_time = invoice_for(world.bob)
    with insurer_scope():
        overdue = selectors.filter_by_status(selectors.invoices_visible(), "overdue")
        assert list(overdue.values_list("number", flat=True)) == [invoice.number]
        services.payment_record(
            invoice=invoice,
            received_on=business_today(),
            amount=Decimal("65.40"),
            reference="",
            actor=ops,
        )
        assert not selectors.filter_by_status(selectors.invoices_visible(), "overdue").exists()
        figures = selectors.open_invoice_figures()
    assert figures["open"] == {"count": 1, "amount": on_time.total}
    assert figures["overdue"] == {"count": 0, "amount": 0}

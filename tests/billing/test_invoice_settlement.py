"""An invoice's paid and credited amounts are kept on its row by PostgreSQL, from its payments
and credit notes (billing/settlement_sql.py): the finance pages read balances and receivables
from the row, through an index that row-level security does not defeat, and nothing else can
change those amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django_scopes import scopes_disabled

from billing import selectors, services, settlement_sql
from billing.models import Invoice, Payment, PaymentStatus
from portal.models import User
from portal.timeutils import business_today
from tests.support.payments import due_days_ago, invoice_for
from tests.support.rls import ordinary_role
from tests.support.scopes import insurer_scope
from tests.support.world import World


def _pay(invoice: Invoice, amount: str, ops: User) -> Payment:
    return services.payment_record(
        invoice=invoice,
        received_on=business_today(),
        amount=Decimal(amount),
        reference="",
        actor=ops,
    )


def _row(invoice: Invoice) -> tuple[Decimal, Decimal, Decimal, bool]:
    with scopes_disabled():
        row = Invoice.objects.values_list("paid", "credited", "balance", "outstanding").get(
            pk=invoice.pk
        )
    return row


def test_payments_and_credit_notes_move_the_stored_amounts_both_ways(world: World) -> None:
    ops = world.staff["finance_ops"]
    invoice = invoice_for(world.alice)  # 65.40
    assert _row(invoice) == (Decimal("0.00"), Decimal("0.00"), Decimal("65.40"), True)
    with insurer_scope():
        payment = _pay(invoice, "40", ops)
        assert _row(invoice) == (Decimal("40.00"), Decimal("0.00"), Decimal("25.40"), True)
        note = services.credit_note_issue(
            invoice=invoice, amount=Decimal("10"), reason="geste", actor=ops
        )
        assert note.total == Decimal("-10.90")  # 10.00 + 9 % tax
        assert _row(invoice) == (Decimal("40.00"), Decimal("10.90"), Decimal("14.50"), True)
        _pay(invoice, "14.50", ops)
        assert selectors.invoice_with_balance(invoice_id=invoice.pk).payment_status == (
            PaymentStatus.PAID
        )
    # Settled by payments and a credit note: no longer outstanding; the note owes nothing.
    assert _row(invoice) == (Decimal("54.50"), Decimal("10.90"), Decimal("0.00"), False)
    assert _row(note)[2:] == (Decimal("0.00"), False)
    # A payment deleted (by the Django admin or a repair) gives its amount back.
    with scopes_disabled():
        Payment.objects.filter(pk=payment.pk).delete()
    assert _row(invoice) == (Decimal("14.50"), Decimal("10.90"), Decimal("40.00"), True)


def test_the_application_cannot_write_the_amounts_nor_save_a_stale_invoice(world: World) -> None:
    ops = world.staff["finance_ops"]
    invoice = invoice_for(world.alice)
    stale = invoice  # loaded before the payment
    with insurer_scope():
        _pay(invoice, "10", ops)
    with scopes_disabled():
        with pytest.raises(DatabaseError, match="follow the payments"), transaction.atomic():
            Invoice.objects.filter(pk=invoice.pk).update(paid=Decimal("65.40"))
        # Saved whole, the instance read before the payment would put `paid` back to 0.
        assert stale.paid == Decimal("0.00")
        with pytest.raises(DatabaseError, match="follow the payments"), transaction.atomic():
            stale.save()
        # Saving only other columns is fine.
        stale.reason = "relu"
        stale.save(update_fields=["reason"])
    assert _row(invoice)[0] == Decimal("10.00")


def test_the_migration_fills_existing_invoices_from_their_rows(world: World) -> None:
    ops = world.staff["finance_ops"]
    invoice = invoice_for(world.alice)
    with insurer_scope():
        _pay(invoice, "5.40", ops)
        services.credit_note_issue(invoice=invoice, amount=Decimal("10"), reason="x", actor=ops)
    expected = _row(invoice)
    with scopes_disabled(), connection.cursor() as cursor:
        # As before migration 0006: the amounts at 0, with the triggers off meanwhile.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no check left pending on the table
        cursor.execute("ALTER TABLE billing_invoice DISABLE TRIGGER USER")
        cursor.execute("UPDATE billing_invoice SET paid = 0, credited = 0")
        assert _row(invoice)[:2] == (Decimal("0.00"), Decimal("0.00"))
        # The migration fills them before it creates the triggers.
        cursor.execute(settlement_sql.BACKFILL)
        cursor.execute("ALTER TABLE billing_invoice ENABLE TRIGGER USER")
    assert (
        _row(invoice)
        == expected
        == (
            Decimal("5.40"),
            Decimal("10.90"),
            Decimal("49.10"),
            True,
        )
    )


def test_receivables_read_the_outstanding_index_under_row_level_security(world: World) -> None:
    invoice = invoice_for(world.alice)
    due_days_ago(invoice, 10)
    with ordinary_role(), insurer_scope():
        figures = selectors.open_invoice_figures()
        queryset = selectors.filter_by_status(selectors.invoices_visible(), "overdue")
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET LOCAL enable_seqscan = on")
    assert figures["overdue"] == {"count": 1, "amount": Decimal("65.40")}
    # `outstanding` is a boolean column: a leakproof condition, so the index serves it even
    # with the tenant policy in force (a `balance > 0` would be checked after the policy).
    assert "invoice_outstanding" in plan

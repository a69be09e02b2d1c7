"""Credit notes mirror their invoice, reference it, and never credit more than it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing import services
from billing.models import (
    InvoiceKind,
)
from portal.errors import Conflict, Forbidden
from tests.support.billing import book, issued, set_terms
from tests.support.scopes import insurer_scope
from tests.support.world import World

OCTOBER = date(2026, 10, 1)


def test_a_full_credit_note_mirrors_the_invoice_and_references_it(world: World) -> None:
    (contract,) = book(1)
    with insurer_scope():
        invoice = issued(contract, OCTOBER)
        note = services.credit_note_issue(
            invoice=invoice, full=True, reason="Résiliation", actor=world.staff["finance_ops"]
        )
        premiums = sorted(line.premium for line in note.lines.all())
    assert note.kind == InvoiceKind.CREDIT_NOTE and note.credits_id == invoice.pk
    assert note.total == Decimal("-60.00")
    assert premiums == [Decimal("-48.00"), Decimal("-12.00")]
    assert note.policyholder_id == invoice.policyholder_id
    with insurer_scope():
        invoice.refresh_from_db()
    assert invoice.total == Decimal("60.00")  # the invoice itself never changes


def test_credit_notes_never_exceed_the_invoice(world: World) -> None:
    (contract,) = book(1)
    set_terms(contract, tax_rate=Decimal("0.0900"))
    ops = world.staff["finance_ops"]
    with insurer_scope():
        # 60.00 + tax 9 % (5.40) = 65.40
        invoice = issued(contract, OCTOBER)
        assert invoice.total == Decimal("65.40")
        # 50.00 + tax 4.50 = 54.50 credited; 10.90 left
        partial = services.credit_note_issue(
            invoice=invoice, amount=Decimal("50"), reason="Geste commercial", actor=ops
        )
        assert partial.total == Decimal("-54.50")
        with pytest.raises(Conflict):  # 11.00 + 0.99 = 11.99 > 10.90
            services.credit_note_issue(invoice=invoice, amount=Decimal("11"), reason="x", actor=ops)
        with pytest.raises(Conflict):  # a full credit after a partial one
            services.credit_note_issue(invoice=invoice, full=True, reason="x", actor=ops)
        with pytest.raises(Forbidden):
            services.credit_note_issue(
                invoice=invoice, amount=Decimal("1"), reason="x", actor=world.alice.finance
            )
        last = services.credit_note_issue(
            invoice=invoice, amount=Decimal("10"), reason="Solde", actor=ops
        )
    assert last.total == Decimal("-10.90")

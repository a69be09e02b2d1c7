"""The layered top-up indemnity of DESIGN §4, as a pure computation a credit manager can follow
line by line. No model, no database: the claim services feed it the invoices with the limits in
force at each delivery date.

Take the covered invoices, unpaid part only, in delivery-date order. `C` is the running loss
before invoice `i` (amount `a`); `P_d` and `T_d` the primary and top-up limits in force at its
delivery date. Its top-up part is the length of `[C, C + a] ∩ [P_d, P_d + T_d]`. The top-up
indemnity is `q × Σ parts`, rounded half up to the cent once, on the total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")


def rounded(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class InvoiceInput:
    """One declared invoice, with the limits in force at its delivery date and, when the top-up
    does not cover it, why (`exclusion`: a code such as `outside_top_up`, `credit_term`,
    `declared_late`)."""

    number: str
    amount: Decimal
    invoice_date: date
    delivery_date: date
    due_date: date
    primary_limit: Decimal
    top_up_limit: Decimal
    exclusion: str = ""


@dataclass(frozen=True)
class IndemnityLine:
    number: str
    delivery_date: date
    amount: Decimal
    paid_by_buyer: Decimal
    unpaid: Decimal
    exclusion: str
    # Only for covered lines (zero otherwise): the running loss before and after the invoice,
    # the top-up layer at its delivery date, the invoice's part in it and q times that part.
    loss_before: Decimal = ZERO
    loss_after: Decimal = ZERO
    layer_from: Decimal = ZERO
    layer_to: Decimal = ZERO
    top_up_part: Decimal = ZERO
    insured_part: Decimal = ZERO

    @property
    def covered(self) -> bool:
        return not self.exclusion


@dataclass(frozen=True)
class Indemnity:
    lines: tuple[IndemnityLine, ...]
    inputs: tuple[InvoiceInput, ...]
    insured_percentage: Decimal
    buyer_payments: Decimal
    loss: Decimal  # Σ unpaid of the covered invoices
    top_up_parts: Decimal  # Σ top-up parts
    exact: Decimal  # q × Σ parts, before rounding
    amount: Decimal  # the indemnity, rounded half up to the cent

    @property
    def rounding(self) -> Decimal:
        return self.amount - self.exact


def payments_allocate(invoices: Sequence[InvoiceInput], paid: Decimal) -> dict[str, Decimal]:
    """Spread the buyer's payments over the invoices, oldest invoice first (invoice date, then
    due date, then number): each invoice's paid part."""
    remaining = max(paid, ZERO)
    allocation: dict[str, Decimal] = {}
    for invoice in sorted(invoices, key=lambda i: (i.invoice_date, i.due_date, i.number)):
        part = min(invoice.amount, remaining)
        allocation[invoice.number] = part
        remaining -= part
    return allocation


def indemnity_compute(
    invoices: Sequence[InvoiceInput],
    *,
    insured_percentage: Decimal,
    buyer_payments: Decimal = ZERO,
) -> Indemnity:
    """The top-up indemnity of a claim, line by line, in delivery-date order."""
    paid = payments_allocate(invoices, buyer_payments)
    lines: list[IndemnityLine] = []
    running = ZERO
    parts = ZERO
    for invoice in sorted(invoices, key=lambda i: (i.delivery_date, i.invoice_date, i.number)):
        paid_part = paid.get(invoice.number, ZERO)
        unpaid = invoice.amount - paid_part
        if invoice.exclusion or unpaid <= 0:
            lines.append(
                IndemnityLine(
                    number=invoice.number,
                    delivery_date=invoice.delivery_date,
                    amount=invoice.amount,
                    paid_by_buyer=paid_part,
                    unpaid=unpaid,
                    exclusion=invoice.exclusion,
                )
            )
            continue
        layer_from = invoice.primary_limit
        layer_to = invoice.primary_limit + invoice.top_up_limit
        part = max(ZERO, min(running + unpaid, layer_to) - max(running, layer_from))
        lines.append(
            IndemnityLine(
                number=invoice.number,
                delivery_date=invoice.delivery_date,
                amount=invoice.amount,
                paid_by_buyer=paid_part,
                unpaid=unpaid,
                exclusion="",
                loss_before=running,
                loss_after=running + unpaid,
                layer_from=layer_from,
                layer_to=layer_to,
                top_up_part=part,
                insured_part=insured_percentage * part,
            )
        )
        running += unpaid
        parts += part
    exact = insured_percentage * parts
    return Indemnity(
        lines=tuple(lines),
        inputs=tuple(invoices),
        insured_percentage=insured_percentage,
        buyer_payments=buyer_payments,
        loss=running,
        top_up_parts=parts,
        exact=exact,
        amount=rounded(exact),
    )


def closed_form(*, loss: Decimal, primary: Decimal, top_up: Decimal, q: Decimal) -> Decimal:
    """DESIGN §4 with constant limits: q × max(0, min(L, P + T) − P), rounded."""
    return rounded(q * max(ZERO, min(loss, primary + top_up) - primary))


def recovery_due_back(
    *, recovered: Decimal, top_up_paid: Decimal, primary_paid: Decimal
) -> Decimal:
    """A recovery after payment is shared pro rata to each layer's share of the indemnified loss
    (what the primary and the top-up paid): the top-up's share is due back to the insurer,
    never more than it paid."""
    indemnified = top_up_paid + primary_paid
    if recovered <= 0 or indemnified <= 0 or top_up_paid <= 0:
        return ZERO
    return min(top_up_paid, rounded(recovered * top_up_paid / indemnified))

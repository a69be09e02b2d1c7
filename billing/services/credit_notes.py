"""Credit notes: corrections of an issued invoice, numbered in the same sequence."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from billing.events import BillingEvent
from billing.models import Invoice, InvoiceKind, InvoiceLine
from billing.premium import ZERO, round_cents
from billing.services.invoices import dates_of, lock_numbering, render_after_commit, take_number
from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User
from portal.money import eur


def credited_so_far(invoice: Invoice) -> Decimal:
    """The positive amount already credited on `invoice` by credit notes."""
    credited = invoice.credit_notes.aggregate(total=Sum("total"))["total"] or ZERO
    return -credited


@dataclass(frozen=True)
class CreditNoteAmounts:
    """What a credit note credits, as positive amounts (the note carries them negated)."""

    full: bool
    premium: Decimal
    adjustment: Decimal
    tax: Decimal

    @property
    def before_tax(self) -> Decimal:
        return self.premium + self.adjustment

    @property
    def total(self) -> Decimal:
        return self.before_tax + self.tax


def credit_note_amounts(
    *, invoice: Invoice, full: bool, amount: Decimal | None
) -> CreditNoteAmounts:
    """What a credit note on `invoice` would credit, after the checks `credit_note_issue` makes:
    the page shows it for confirmation, the service computes it again under the invoice's lock.

    Exactly one choice: `full` credits the whole invoice (only if nothing was credited yet);
    otherwise `amount` (premium before tax, positive) plus its tax at the invoice's rate, and
    the credits never exceed the invoice total.
    """
    if invoice.kind != InvoiceKind.INVOICE:
        raise RuleViolation(_("Un avoir porte sur une facture, pas sur un avoir."))
    if full and amount is not None:
        raise RuleViolation(
            _("Choisissez l'avoir total ou un montant, pas les deux."), field="amount"
        )
    if not full and amount is None:
        raise RuleViolation(
            _("Indiquez le montant HT à créditer, ou choisissez l'avoir total."), field="amount"
        )
    remaining = invoice.total - credited_so_far(invoice)
    if full:
        if remaining != invoice.total:
            raise Conflict(
                _("La facture a déjà un avoir : indiquez le montant à créditer."), field="full"
            )
        return CreditNoteAmounts(
            full=True,
            premium=invoice.premium_total,
            adjustment=invoice.minimum_adjustment,
            tax=invoice.tax_amount,
        )
    assert amount is not None  # the choice was checked above
    amount = round_cents(amount)
    if amount <= 0:
        raise RuleViolation(_("Le montant de l'avoir doit être positif."), field="amount")
    tax = round_cents(amount * invoice.tax_rate) if invoice.tax_rate else ZERO
    if amount + tax > remaining:
        raise Conflict(
            _("L'avoir (%(asked)s TTC) dépasse le reste créditable (%(left)s).")
            % {"asked": eur(amount + tax), "left": eur(remaining)},
            field="amount",
        )
    return CreditNoteAmounts(full=False, premium=amount, adjustment=ZERO, tax=tax)


@transaction.atomic(durable=True)
def credit_note_issue(
    *,
    invoice: Invoice,
    reason: str,
    actor: User,
    full: bool = False,
    amount: Decimal | None = None,
) -> Invoice:
    """Issue a credit note on `invoice`, with the next number of the sequence.

    The caller chooses explicitly (see `credit_note_amounts`): `full=True` credits the whole
    invoice line by line; otherwise a positive `amount` (before tax) is credited on one line
    labelled with the reason, plus its tax. Neither or both is a `RuleViolation` on `amount`.
    """
    policy.require(policy.can_issue_credit_note(actor))
    reason = reason.strip()
    if not reason:
        raise RuleViolation(_("Indiquez le motif de l'avoir."), field="reason")
    sequence, issued_at = lock_numbering()
    # Serialise credit notes on one invoice so two of them cannot both pass the limit check.
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    credited = credit_note_amounts(invoice=invoice, full=full, amount=amount)

    if credited.full:
        lines = [
            InvoiceLine(
                policyholder_id=invoice.policyholder_id,
                position=line.position,
                buyer_id=line.buyer_id,
                buyer_name=line.buyer_name,
                buyer_identifier=line.buyer_identifier,
                label=line.label,
                base=line.base,
                amount_days=line.amount_days,
                days_in_force=line.days_in_force,
                rate=line.rate,
                premium=-line.premium,
            )
            for line in invoice.lines.order_by("position")
        ]
    else:
        lines = [
            InvoiceLine(
                policyholder_id=invoice.policyholder_id,
                position=1,
                label=reason[:200],
                base=credited.premium,
                rate=Decimal("1"),
                premium=-credited.premium,
            )
        ]

    copied = {
        field: getattr(invoice, field)
        for field in (
            "policyholder_id",
            "contract_id",
            "month",
            "insurer_name",
            "insurer_address",
            "insurer_siren",
            "payment_iban",
            "payment_bic",
            "payment_bank",
            "policyholder_name",
            "policyholder_address",
            "policyholder_siren",
            "contract_number",
            "premium_basis",
            "monthly_rate",
            "days_in_month",
            "minimum_premium",
            "tax_rate",
        )
    }
    note = Invoice.objects.create(
        kind=InvoiceKind.CREDIT_NOTE,
        credits=invoice,
        reason=reason,
        issued_by=actor,
        **copied,
        **take_number(sequence),
        **dates_of(issued_at),
        premium_total=-credited.premium,
        minimum_adjustment=-credited.adjustment,
        tax_amount=-credited.tax,
        total=-credited.total,
    )
    for line in lines:
        line.invoice = note
    InvoiceLine.objects.bulk_create(lines)
    event_record(
        action=BillingEvent.CREDIT_NOTE_ISSUED,
        actor=actor,
        obj=note,
        policyholder=invoice.policyholder,
        reason=reason,
        data={"number": note.number, "credits": invoice.number, "total": str(note.total)},
    )
    render_after_commit([note])
    return note

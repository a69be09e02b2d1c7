"""Credit notes: corrections of an issued invoice, numbered in the same sequence."""

from __future__ import annotations

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


def credited_so_far(invoice: Invoice) -> Decimal:
    """The positive amount already credited on `invoice` by credit notes."""
    credited = invoice.credit_notes.aggregate(total=Sum("total"))["total"] or ZERO
    return -credited


@transaction.atomic(durable=True)
def credit_note_issue(
    *, invoice: Invoice, reason: str, actor: User, amount: Decimal | None = None
) -> Invoice:
    """Issue a credit note on `invoice`, with the next number of the sequence.

    Without `amount`, the whole invoice is credited line by line (only if nothing was credited
    yet). With `amount` (premium before tax, positive), one labelled line credits that amount
    plus its tax at the invoice's rate; the credits never exceed the invoice total.
    """
    policy.require(policy.can_issue_credit_note(actor))
    if invoice.kind != InvoiceKind.INVOICE:
        raise RuleViolation(_("Un avoir porte sur une facture, pas sur un avoir."))
    reason = reason.strip()
    if not reason:
        raise RuleViolation(_("Indiquez le motif de l'avoir."), field="reason")
    sequence, issued_at = lock_numbering()
    # Serialise credit notes on one invoice so two of them cannot both pass the limit check.
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    remaining = invoice.total - credited_so_far(invoice)
    originals = list(invoice.lines.order_by("position"))

    if amount is None:
        if remaining != invoice.total:
            raise Conflict(
                _("La facture a déjà un avoir : indiquez le montant à créditer."), field="amount"
            )
        premium_total, adjustment, tax = (
            -invoice.premium_total,
            -invoice.minimum_adjustment,
            -invoice.tax_amount,
        )
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
            for line in originals
        ]
    else:
        amount = round_cents(amount)
        if amount <= 0:
            raise RuleViolation(_("Le montant de l'avoir doit être positif."), field="amount")
        tax = -round_cents(amount * invoice.tax_rate) if invoice.tax_rate else ZERO
        if amount - tax > remaining:
            raise Conflict(
                _("L'avoir (%(asked)s EUR TTC) dépasse le reste créditable (%(left)s EUR).")
                % {"asked": amount - tax, "left": remaining},
                field="amount",
            )
        premium_total, adjustment = -amount, ZERO
        lines = [
            InvoiceLine(
                policyholder_id=invoice.policyholder_id,
                position=1,
                label=reason[:200],
                base=amount,
                rate=Decimal("1"),
                premium=-amount,
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
        premium_total=premium_total,
        minimum_adjustment=adjustment,
        tax_amount=tax,
        total=premium_total + adjustment + tax,
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

"""Writes for billing: issuing invoices and credit notes, storing their PDFs, billing runs.

Exactly once: every issue takes the row lock of its year's number sequence first, then checks
that the (contract, month) has no invoice yet, in the same transaction. Issuers are therefore
serialised, the check sees every committed invoice, a rolled-back issue gives its number back
(no gaps), and the unique constraint on (contract, month) is the backstop.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from billing import selectors
from billing.models import (
    BillingRun,
    BillingRunFailure,
    BillingRunStatus,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceNumberSequence,
    InvoicePdf,
)
from billing.premium import (
    ZERO,
    BuyerBase,
    days_in,
    invoice_totals,
    line_amounts,
    month_first,
    round_cents,
)
from portal.errors import Conflict, RuleViolation
from portal.models import Organisation, OrganisationKind, Role, User
from portal.services import audit_record, notification_send
from portal.timeutils import business_date, business_today
from underwriting.models import Contract

logger = logging.getLogger(__name__)

RUN_BATCH = 500
CREDIT_ROLES = {Role.FINANCE_OPS, Role.ADMIN}


@dataclass(frozen=True)
class Issuer:
    """The insurer's identity and payment details, as printed on every document."""

    name: str
    address: str
    siren: str
    iban: str
    bic: str
    bank: str


def issuer_details() -> Issuer:
    insurer = (
        Organisation.objects.filter(kind=OrganisationKind.INSURER).order_by("created_at").first()
    )
    if insurer is None:
        raise RuleViolation(_("Aucun assureur n'est enregistré : impossible d'émettre."))
    return Issuer(
        name=insurer.name,
        address=insurer.address,
        siren=insurer.siren,
        iban=settings.BILLING_IBAN,
        bic=settings.BILLING_BIC,
        bank=settings.BILLING_BANK,
    )


def billable_month(month: date) -> date:
    """`month` as the first day of a month that is over (Europe/Paris)."""
    first = month_first(month)
    if first >= month_first(business_today()):
        raise RuleViolation(
            _("Seul un mois échu peut être facturé (%(month)s ne l'est pas).")
            % {"month": f"{first:%m/%Y}"},
            field="month",
        )
    return first


def _locked_sequence(year: int) -> InvoiceNumberSequence:
    sequence = InvoiceNumberSequence.objects.select_for_update().filter(year=year).first()
    if sequence is None:
        InvoiceNumberSequence.objects.bulk_create(
            [InvoiceNumberSequence(year=year, last=0)], ignore_conflicts=True
        )
        sequence = InvoiceNumberSequence.objects.select_for_update().get(year=year)
    return sequence


def _lock_numbering() -> tuple[InvoiceNumberSequence, Any]:
    """Lock this year's sequence and read the clock once the lock is held, so the numbers
    follow the issue times."""
    sequence = _locked_sequence(business_today().year)
    issued_at = timezone.now()
    if business_date(issued_at).year != sequence.year:  # waited across New Year's Eve
        sequence = _locked_sequence(business_date(issued_at).year)
    return sequence, issued_at


def _take_number(sequence: InvoiceNumberSequence) -> dict[str, Any]:
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return {
        "year": sequence.year,
        "sequence": sequence.last,
        "number": f"UP-{sequence.year}-{sequence.last:06d}",
    }


def _dates(issued_at: Any) -> dict[str, Any]:
    issued_on = business_date(issued_at)
    return {
        "issued_at": issued_at,
        "issued_on": issued_on,
        "due_on": issued_on + timedelta(days=settings.BILLING_PAYMENT_TERM_DAYS),
    }


def _announce(*, invoice: Invoice) -> None:
    """Audit row, e-mail to the policyholder's finance users, PDF rendering after commit."""
    from billing.tasks import invoice_render_pdf

    recipients = selectors.finance_recipients(policyholder_id=invoice.policyholder_id)
    if invoice.is_credit_note:
        subject = _("Avoir %(number)s émis") % {"number": invoice.number}
    else:
        subject = _("Facture de prime %(number)s émise") % {"number": invoice.number}
    notification_send(
        recipients=recipients,
        subject=subject,
        body=_("Contrat %(contract)s, %(month)s : %(total)s EUR, échéance le %(due)s.")
        % {
            "contract": invoice.contract_number,
            "month": f"{invoice.month:%m/%Y}",
            "total": invoice.total,
            "due": f"{invoice.due_on:%d/%m/%Y}",
        },
        link=reverse("invoice_detail", kwargs={"invoice_id": invoice.pk}),
    )
    invoice_id = str(invoice.pk)
    transaction.on_commit(lambda: invoice_render_pdf.delay(invoice_id=invoice_id), robust=True)


@transaction.atomic
def invoice_issue(
    *,
    contract: Contract,
    month: date,
    bases: Sequence[BuyerBase] | None = None,
    issuer: Issuer | None = None,
    run: BillingRun | None = None,
    actor: User | None = None,
) -> Invoice | None:
    """Issue the premium invoice of `contract` for `month`, once.

    Returns None when the month is already invoiced, or when there is nothing to bill (no
    guarantee in force and no minimum premium). `bases` may be precomputed for a batch of
    contracts by `selectors.premium_bases`; they are read before the lock, which is sound
    because guarantee periods of a past month are not rewritten.
    """
    month = billable_month(month)
    issuer = issuer or issuer_details()
    sequence, issued_at = _lock_numbering()
    if Invoice.objects.filter(contract=contract, month=month, kind=InvoiceKind.INVOICE).exists():
        return None
    if bases is None:
        bases = selectors.premium_bases(month=month, contract_ids=[contract.pk]).get(
            contract.pk, []
        )
    if not bases and contract.minimum_premium is None:
        return None

    days_in_month = days_in(month)
    amounts = [
        line_amounts(
            buyer=base,
            basis=contract.premium_basis,
            rate=contract.monthly_rate,
            days_in_month=days_in_month,
        )
        for base in bases
    ]
    totals = invoice_totals(
        premiums=[amount.premium for amount in amounts],
        minimum_premium=contract.minimum_premium,
        tax_rate=contract.tax_rate,
    )
    policyholder = contract.policyholder
    invoice = Invoice.objects.create(
        policyholder=policyholder,
        kind=InvoiceKind.INVOICE,
        contract=contract,
        month=month,
        **_take_number(sequence),
        **_dates(issued_at),
        issued_by=actor if actor is not None and actor.pk else None,
        billing_run=run,
        insurer_name=issuer.name,
        insurer_address=issuer.address,
        insurer_siren=issuer.siren,
        payment_iban=issuer.iban,
        payment_bic=issuer.bic,
        payment_bank=issuer.bank,
        policyholder_name=policyholder.name,
        policyholder_address=policyholder.address,
        policyholder_siren=policyholder.siren,
        contract_number=contract.number,
        premium_basis=contract.premium_basis,
        monthly_rate=contract.monthly_rate,
        days_in_month=days_in_month,
        minimum_premium=contract.minimum_premium,
        tax_rate=contract.tax_rate,
        premium_total=totals.premium_total,
        minimum_adjustment=totals.minimum_adjustment,
        tax_amount=totals.tax_amount,
        total=totals.total,
    )
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                policyholder_id=policyholder.pk,
                invoice=invoice,
                position=position,
                buyer_id=base.buyer_id,
                buyer_name=base.buyer_name,
                buyer_identifier=base.buyer_identifier,
                base=amount.base,
                amount_days=amount.amount_days,
                days_in_force=amount.days_in_force,
                rate=contract.monthly_rate,
                premium=amount.premium,
            )
            for position, (base, amount) in enumerate(zip(bases, amounts, strict=True), start=1)
        ]
    )
    audit_record(
        actor=actor,
        action="invoice.issued",
        obj=invoice,
        policyholder=policyholder,
        data={
            "number": invoice.number,
            "month": f"{month:%Y-%m}",
            "total": str(invoice.total),
            "run": str(run.pk) if run else None,
        },
    )
    if run is not None:
        BillingRun.objects.filter(pk=run.pk).update(issued=F("issued") + 1, updated_at=issued_at)
    _announce(invoice=invoice)
    return invoice


def credited_so_far(invoice: Invoice) -> Decimal:
    """The positive amount already credited on `invoice` by credit notes."""
    credited = invoice.credit_notes.aggregate(total=Sum("total"))["total"] or ZERO
    return -credited


@transaction.atomic
def credit_note_issue(
    *, invoice: Invoice, reason: str, actor: User, amount: Decimal | None = None
) -> Invoice:
    """Issue a credit note on `invoice`, with the next number of the sequence.

    Without `amount`, the whole invoice is credited line by line (only if nothing was credited
    yet). With `amount` (premium before tax, positive), one labelled line credits that amount
    plus its tax at the invoice's rate; the credits never exceed the invoice total.
    """
    if not (actor.is_insurer_staff and actor.role in CREDIT_ROLES):
        raise RuleViolation(_("Seules les opérations financières émettent des avoirs."))
    if invoice.kind != InvoiceKind.INVOICE:
        raise RuleViolation(_("Un avoir porte sur une facture, pas sur un avoir."))
    reason = reason.strip()
    if not reason:
        raise RuleViolation(_("Indiquez le motif de l'avoir."), field="reason")
    sequence, issued_at = _lock_numbering()
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
        **_take_number(sequence),
        **_dates(issued_at),
        premium_total=premium_total,
        minimum_adjustment=adjustment,
        tax_amount=tax,
        total=premium_total + adjustment + tax,
    )
    for line in lines:
        line.invoice = note
    InvoiceLine.objects.bulk_create(lines)
    audit_record(
        actor=actor,
        action="credit_note.issued",
        obj=note,
        policyholder=invoice.policyholder,
        reason=reason,
        data={"number": note.number, "credits": invoice.number, "total": str(note.total)},
    )
    _announce(invoice=note)
    return note


def invoice_pdf_store(*, invoice: Invoice) -> InvoicePdf:
    """Render the PDF of `invoice` once and store it; later calls return the stored bytes."""
    from billing.pdf import invoice_pdf_render

    existing = InvoicePdf.objects.filter(invoice=invoice).first()
    if existing is not None:
        return existing
    content = invoice_pdf_render(invoice=invoice)
    # Two renderers racing both produce the same bytes; the first row stored wins.
    InvoicePdf.objects.bulk_create(
        [
            InvoicePdf(
                policyholder_id=invoice.policyholder_id,
                invoice=invoice,
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                rendered_at=timezone.now(),
            )
        ],
        ignore_conflicts=True,
    )
    return InvoicePdf.objects.get(invoice=invoice)


# --- Billing runs -------------------------------------------------------------------------


@transaction.atomic
def billing_run_create(*, month: date, trigger: str, actor: User | None) -> BillingRun:
    run = BillingRun.objects.create(
        month=billable_month(month),
        trigger=trigger,
        started_by=actor if actor is not None and actor.pk else None,
    )
    audit_record(
        actor=actor, action="billing_run.created", obj=run, data={"month": f"{run.month:%Y-%m}"}
    )
    return run


@transaction.atomic
def billing_run_start(*, month: date, trigger: str, actor: User | None) -> BillingRun:
    """Record a run and have a worker execute it once the record is committed."""
    from billing.tasks import billing_run_execute_task

    run = billing_run_create(month=month, trigger=trigger, actor=actor)
    run_id = str(run.pk)
    transaction.on_commit(lambda: billing_run_execute_task.delay(run_id=run_id), robust=True)
    return run


def _chunks(items: list[UUID], size: int) -> Iterator[list[UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record_failure(*, run: BillingRun, contract: Contract, error: Exception) -> None:
    logger.exception("billing run %s: contract %s failed", run.pk, contract.number)
    BillingRunFailure.objects.create(
        run=run,
        contract=contract,
        contract_number=contract.number,
        message=f"{type(error).__name__}: {error}"[:2000],
    )
    BillingRun.objects.filter(pk=run.pk).update(failed=F("failed") + 1, updated_at=timezone.now())


def billing_run_execute(*, run_id: UUID | str) -> BillingRun:
    """Bill every contract in force in the run's month that has no invoice for it yet.

    Not one transaction: each contract is issued in its own, so a failing contract is recorded
    on the run and the others go on, and a run killed halfway leaves whole invoices only.
    Executing a run again (a retried task) starts its counters afresh and bills what is missing.
    """
    with scopes_disabled():  # a run bills every policyholder: the insurer-wide scope
        run = BillingRun.objects.get(pk=run_id)
        contract_ids = list(
            selectors.contracts_to_bill(month=run.month).values_list("pk", flat=True)
        )
        now = timezone.now()
        BillingRunFailure.objects.filter(run=run).delete()
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRunStatus.RUNNING,
            started_at=now,
            updated_at=now,
            finished_at=None,
            total=len(contract_ids),
            issued=0,
            skipped=0,
            failed=0,
            error="",
        )
        try:
            issuer = issuer_details()
            for batch in _chunks(contract_ids, RUN_BATCH):
                _bill_batch(run=run, contract_ids=batch, issuer=issuer)
        except Exception as error:
            BillingRun.objects.filter(pk=run.pk).update(
                status=BillingRunStatus.FAILED,
                finished_at=timezone.now(),
                error=f"{type(error).__name__}: {error}"[:2000],
            )
            raise
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRunStatus.FINISHED, finished_at=timezone.now()
        )
        run.refresh_from_db()
        audit_record(
            actor=None,
            action="billing_run.finished",
            obj=run,
            data={"issued": run.issued, "skipped": run.skipped, "failed": run.failed},
        )
    return run


def _bill_batch(*, run: BillingRun, contract_ids: list[UUID], issuer: Issuer) -> None:
    contracts = list(
        Contract.objects.filter(pk__in=contract_ids)
        .select_related("policyholder")
        .order_by("number")
    )
    invoiced = set(
        Invoice.objects.filter(
            kind=InvoiceKind.INVOICE, month=run.month, contract_id__in=contract_ids
        ).values_list("contract_id", flat=True)
    )
    to_bill = [contract for contract in contracts if contract.pk not in invoiced]
    bases = selectors.premium_bases(month=run.month, contract_ids=[c.pk for c in to_bill])
    skipped = len(contracts) - len(to_bill)
    for contract in to_bill:
        try:
            invoice = invoice_issue(
                contract=contract,
                month=run.month,
                bases=bases.get(contract.pk, []),
                issuer=issuer,
                run=run,
            )
        except Exception as error:  # noqa: BLE001 - one contract must not stop the others
            _record_failure(run=run, contract=contract, error=error)
            continue
        if invoice is None:
            skipped += 1
    if skipped:
        BillingRun.objects.filter(pk=run.pk).update(
            skipped=F("skipped") + skipped, updated_at=timezone.now()
        )

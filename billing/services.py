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
from django.db import connection, transaction
from django.db.models import F, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from billing import premium_sql, selectors
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
    days_in,
    invoice_totals,
    month_after,
    month_first,
    round_cents,
)
from portal.errors import Conflict, RuleViolation
from portal.models import AuditEvent, Organisation, OrganisationKind, Role, User
from portal.services import audit_record, notification_send
from portal.timeutils import business_date, business_today
from underwriting.models import Contract

logger = logging.getLogger(__name__)

RUN_BATCH = 2000  # contracts loaded at a time
COMMIT_EVERY = 200  # contracts issued set-based per transaction
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


def _number(year: int, sequence: int) -> dict[str, Any]:
    return {"year": year, "sequence": sequence, "number": f"UP-{year}-{sequence:06d}"}


def _take_number(sequence: InvoiceNumberSequence) -> dict[str, Any]:
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return _number(sequence.year, sequence.last)


def _dates(issued_at: Any) -> dict[str, Any]:
    issued_on = business_date(issued_at)
    return {
        "issued_at": issued_at,
        "issued_on": issued_on,
        "due_on": issued_on + timedelta(days=settings.BILLING_PAYMENT_TERM_DAYS),
    }


def _render_after_commit(invoices: Sequence[Invoice]) -> None:
    """One render task per committed group (a month enqueues tens of messages, not 10 000)."""
    from billing.tasks import invoice_render_pdfs

    invoice_ids = [str(invoice.pk) for invoice in invoices]
    transaction.on_commit(lambda: invoice_render_pdfs.delay(invoice_ids=invoice_ids), robust=True)


def _announce(*, invoice: Invoice, recipients: Sequence[User]) -> None:
    """E-mail the policyholder's finance users."""
    if recipients:
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


def _invoice_document(
    *,
    contract: Contract,
    month: date,
    premium_total: Decimal,
    issuer: Issuer,
    number: dict[str, Any],
    dates: dict[str, Any],
    run: BillingRun | None,
    actor: User | None,
) -> Invoice:
    """The invoice row of `contract`, with identities and terms copied as they are today."""
    totals = invoice_totals(
        premiums=[premium_total],
        minimum_premium=contract.minimum_premium,
        tax_rate=contract.tax_rate,
    )
    policyholder = contract.policyholder
    return Invoice(
        policyholder=policyholder,
        kind=InvoiceKind.INVOICE,
        contract=contract,
        month=month,
        **number,
        **dates,
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
        days_in_month=days_in(month),
        minimum_premium=contract.minimum_premium,
        tax_rate=contract.tax_rate,
        premium_total=totals.premium_total,
        minimum_adjustment=totals.minimum_adjustment,
        tax_amount=totals.tax_amount,
        total=totals.total,
    )


def _issue_invoices(
    *,
    contracts: Sequence[Contract],
    month: date,
    issuer: Issuer,
    run: BillingRun | None,
    actor: User | None,
) -> list[Invoice]:
    """Issue the month's invoice of each contract that has none yet, set-based.

    Must run inside a transaction. The line premiums are computed and written by PostgreSQL
    (`premium_sql`): a month of 1 000 000 guarantee lines never travels through Python. Contracts
    with nothing in force and no minimum premium get no invoice.
    """
    sequence, issued_at = _lock_numbering()
    # Checked under the numbering lock: every issuer holds it until it commits.
    invoiced = set(
        Invoice.objects.filter(
            kind=InvoiceKind.INVOICE, month=month, contract__in=[c.pk for c in contracts]
        ).values_list("contract_id", flat=True)
    )
    contracts = [contract for contract in contracts if contract.pk not in invoiced]
    if not contracts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(premium_sql.DROP_WORK)
        cursor.execute(
            premium_sql.CREATE_WORK,
            {
                "first": month,
                "next": month_after(month),
                "days_in_month": days_in(month),
                "contracts": [contract.pk for contract in contracts],
            },
        )
        cursor.execute(premium_sql.SUMS)
        sums: dict[UUID, Decimal] = dict(cursor.fetchall())
        dates = _dates(issued_at)
        invoices = [
            _invoice_document(
                contract=contract,
                month=month,
                premium_total=sums.get(contract.pk, ZERO),
                issuer=issuer,
                number=_number(sequence.year, sequence.last + position),
                dates=dates,
                run=run,
                actor=actor,
            )
            for position, contract in enumerate(
                (c for c in contracts if c.pk in sums or c.minimum_premium is not None), start=1
            )
        ]
        if not invoices:
            cursor.execute(premium_sql.DROP_WORK)
            return []
        sequence.last += len(invoices)
        sequence.save(update_fields=["last"])
        Invoice.objects.bulk_create(invoices)
        cursor.execute(
            premium_sql.INSERT_LINES,
            {
                "contracts": [invoice.contract_id for invoice in invoices],
                "invoices": [invoice.pk for invoice in invoices],
                "policyholders": [invoice.policyholder_id for invoice in invoices],
            },
        )
        cursor.execute(premium_sql.DROP_WORK)
    # One audit row per invoice, written in bulk (the same row audit_record writes).
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=actor if actor is not None and actor.pk else None,
                policyholder_id=invoice.policyholder_id,
                action="invoice.issued",
                object_type=Invoice._meta.label,
                object_id=str(invoice.pk),
                data={
                    "number": invoice.number,
                    "month": f"{month:%Y-%m}",
                    "total": str(invoice.total),
                    "run": str(run.pk) if run else None,
                },
            )
            for invoice in invoices
        ]
    )
    recipients = selectors.finance_recipients_by_policyholder(
        policyholder_ids={invoice.policyholder_id for invoice in invoices}
    )
    for invoice in invoices:
        _announce(invoice=invoice, recipients=recipients.get(invoice.policyholder_id, []))
    _render_after_commit(invoices)
    if run is not None:
        BillingRun.objects.filter(pk=run.pk).update(
            issued=F("issued") + len(invoices), updated_at=issued_at
        )
    return invoices


@transaction.atomic
def invoice_issue(
    *,
    contract: Contract,
    month: date,
    issuer: Issuer | None = None,
    run: BillingRun | None = None,
    actor: User | None = None,
) -> Invoice | None:
    """Issue the premium invoice of `contract` for `month`, once.

    Returns None when the month is already invoiced, or when there is nothing to bill (no
    guarantee in force and no minimum premium).
    """
    issued = _issue_invoices(
        contracts=[contract],
        month=billable_month(month),
        issuer=issuer or issuer_details(),
        run=run,
        actor=actor,
    )
    return issued[0] if issued else None


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
    _announce(
        invoice=note,
        recipients=list(selectors.finance_recipients(policyholder_id=note.policyholder_id)),
    )
    _render_after_commit([note])
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

    Not one transaction: contracts are issued in groups of COMMIT_EVERY, one transaction each,
    so a failing contract is recorded on the run and the others go on, and a run killed halfway
    leaves whole invoices only.
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
    # A group of contracts is issued set-based in one transaction. If anything in it fails,
    # the group rolls back and its contracts are issued one by one, each in its own savepoint,
    # so the failing contract is recorded on the run and the others go on. A kill loses at most
    # the uncommitted group, which the next run issues again.
    for start in range(0, len(contracts), COMMIT_EVERY):
        group = contracts[start : start + COMMIT_EVERY]
        written = False
        issued: list[Invoice] = []
        try:
            with transaction.atomic():
                issued = _issue_invoices(
                    contracts=group, month=run.month, issuer=issuer, run=run, actor=None
                )
                _count_skipped(run=run, skipped=len(group) - len(issued))
                written = True
        except Exception:  # noqa: BLE001 - isolate the culprit below
            if written and (not issued or Invoice.objects.filter(pk=issued[0].pk).exists()):
                # Committed; an after-commit callback (an e-mail being queued) failed. The
                # invoices stand: nothing to retry. (A failed COMMIT leaves no invoice and
                # falls through to the retry below.)
                logger.exception("billing run %s: after-commit callback failed", run.pk)
                continue
            logger.warning("billing run %s: a group failed, retrying contract by contract", run.pk)
            with transaction.atomic():
                _bill_one_by_one(run=run, contracts=group, issuer=issuer)


def _bill_one_by_one(*, run: BillingRun, contracts: list[Contract], issuer: Issuer) -> None:
    skipped = 0
    for contract in contracts:
        try:
            invoice = invoice_issue(contract=contract, month=run.month, issuer=issuer, run=run)
        except Exception as error:  # noqa: BLE001 - one contract must not stop the others
            _record_failure(run=run, contract=contract, error=error)
            continue
        if invoice is None:
            skipped += 1
    _count_skipped(run=run, skipped=skipped)


def _count_skipped(*, run: BillingRun, skipped: int) -> None:
    if skipped:
        BillingRun.objects.filter(pk=run.pk).update(
            skipped=F("skipped") + skipped, updated_at=timezone.now()
        )

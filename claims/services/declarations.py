"""The wholesaler's side of a claim: the declaration, invoices added later (typed or from a
CSV), supporting documents. Every check runs before anything is written: a refused declaration
writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from claims.events import ClaimEvent
from claims.invoices_csv import InvoiceData, InvoiceLine, read_invoice_csv
from claims.models import Claim, ClaimInvoice, ClaimStatus
from claims.services.coverage import declaration_deadline, invoice_cover
from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User
from portal.timeutils import business_today
from underwriting.models import Buyer, Contract, ContractStatus

# Invoices may be added while the claim is still being worked on, before any settlement.
ADDING_STATUSES = (ClaimStatus.DECLARED, ClaimStatus.IN_RECOVERY)


def _short(day: date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def invoice_errors(*, contract: Contract, data: InvoiceData) -> list[tuple[str, str]]:
    """What is wrong with one invoice, as (field, message) pairs: amount, dates, deadline."""
    today = business_today()
    errors: list[tuple[str, str]] = []
    if not data.number.strip():
        errors.append(("number", _("Indiquez le n° de facture.")))
    if data.amount <= 0:
        errors.append(("amount", _("Le montant doit être positif.")))
    if data.due_date < data.invoice_date:
        errors.append(("due_date", _("L'échéance précède la date de facture.")))
    if data.due_date < data.delivery_date:
        errors.append(("due_date", _("L'échéance précède la date de livraison.")))
    if data.due_date > today:
        errors.append(
            (
                "due_date",
                _("La facture n'est pas échue (échéance le %(date)s).")
                % {"date": _short(data.due_date)},
            )
        )
    deadline = declaration_deadline(contract=contract, due_date=data.due_date)
    if deadline < today:
        errors.append(
            (
                "due_date",
                _(
                    "Déclaration hors délai : cette facture devait être déclarée au plus tard "
                    "le %(date)s (échéance + %(days)s jours)."
                )
                % {"date": _short(deadline), "days": contract.declaration_deadline_days},
            )
        )
    return errors


def _checked(*, contract: Contract, buyer: Buyer, invoices: Sequence[InvoiceData]) -> None:
    """Refuse the whole set, naming the first invoice and field at fault."""
    if not invoices:
        raise RuleViolation(_("Déclarez au moins une facture impayée."), field="invoices")
    seen: set[str] = set()
    for index, data in enumerate(invoices):
        for field, message in invoice_errors(contract=contract, data=data):
            raise RuleViolation(
                _("Facture %(number)s : %(message)s") % {"number": data.number, "message": message},
                field=f"invoices[{index}].{field}",
            )
        if data.number in seen:
            raise RuleViolation(
                _("La facture %(number)s figure deux fois.") % {"number": data.number},
                field=f"invoices[{index}].number",
            )
        seen.add(data.number)
    already = set(
        ClaimInvoice.objects.filter(
            policyholder=contract.policyholder, buyer=buyer, number__in=list(seen)
        ).values_list("number", flat=True)
    )
    for index, data in enumerate(invoices):
        if data.number in already:
            raise Conflict(
                _("La facture %(number)s sur cet acheteur est déjà déclarée.")
                % {"number": data.number},
                field=f"invoices[{index}].number",
                code="invoice_already_declared",
            )


def _invoices_write(*, claim: Claim, invoices: Sequence[InvoiceData]) -> list[ClaimInvoice]:
    now = timezone.now()
    rows = []
    for data in invoices:
        cover = invoice_cover(
            contract=claim.contract,
            buyer=claim.buyer,
            delivery_date=data.delivery_date,
            due_date=data.due_date,
        )
        rows.append(
            ClaimInvoice(
                policyholder=claim.policyholder,
                claim=claim,
                buyer=claim.buyer,
                number=data.number,
                amount=data.amount,
                invoice_date=data.invoice_date,
                delivery_date=data.delivery_date,
                due_date=data.due_date,
                primary_limit=cover.primary_limit,
                top_up_limit=cover.top_up_limit,
                exclusion=cover.exclusion,
                declared_at=now,
            )
        )
    return ClaimInvoice.objects.bulk_create(rows)


def _new_number() -> str:
    return f"SIN-{business_today():%Y}-{uuid.uuid4().hex[:6].upper()}"


def claim_declare(
    *, contract: Contract, buyer: Buyer, invoices: Sequence[InvoiceData], actor: User
) -> Claim:
    """Declare unpaid invoices on one buyer under one contract."""
    claim, _created = claim_declare_once(
        contract=contract, buyer=buyer, invoices=invoices, actor=actor
    )
    return claim


def _previous_by_key(*, contract: Contract, idempotency_key: str, fingerprint: str) -> Claim | None:
    if not idempotency_key:
        return None
    previous = Claim.objects.filter(
        policyholder=contract.policyholder, idempotency_key=idempotency_key
    ).first()
    if previous is not None and fingerprint and previous.idempotency_fingerprint != fingerprint:
        raise Conflict(
            _("Cette clé d'idempotence a déjà servi pour une autre déclaration."),
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return previous


@transaction.atomic(durable=True)
def claim_declare_once(
    *,
    contract: Contract,
    buyer: Buyer,
    invoices: Sequence[InvoiceData],
    actor: User,
    idempotency_key: str = "",
    fingerprint: str = "",
) -> tuple[Claim, bool]:
    """`claim_declare`, safe to retry: a declaration with an idempotency key already used by
    this policyholder returns the first claim and `False`, never a second claim."""
    policy.require(policy.can_declare_claims(actor))
    previous = _previous_by_key(
        contract=contract, idempotency_key=idempotency_key, fingerprint=fingerprint
    )
    if previous is not None:
        return previous, False
    if contract.status == ContractStatus.DRAFT:
        raise RuleViolation(_("Ce contrat n'est pas en vigueur."), field="contract")
    _checked(contract=contract, buyer=buyer, invoices=invoices)
    claim = Claim(
        policyholder=contract.policyholder,
        number=_new_number(),
        contract=contract,
        buyer=buyer,
        declared_by=actor,
        declared_at=timezone.now(),
        idempotency_key=idempotency_key,
        idempotency_fingerprint=fingerprint if idempotency_key else "",
    )
    try:
        with transaction.atomic():
            claim.save(force_insert=True)
    except IntegrityError:
        # The same key, committed meanwhile by a concurrent call.
        previous = _previous_by_key(
            contract=contract, idempotency_key=idempotency_key, fingerprint=""
        )
        if previous is not None:
            return previous, False
        raise
    written = _invoices_write(claim=claim, invoices=invoices)
    event_record(
        action=ClaimEvent.DECLARED,
        actor=actor,
        obj=claim,
        policyholder=claim.policyholder,
        data={
            "invoices": len(written),
            "amount": str(sum((row.amount for row in written), start=Decimal("0"))),
        },
    )
    return claim, True


def lock_claim(claim_id: UUID | str) -> Claim:
    return (
        Claim.objects.select_for_update(of=("self",))
        .select_related("contract", "buyer", "policyholder")
        .get(pk=claim_id)
    )


@transaction.atomic(durable=True)
def claim_invoices_add(
    *, claim_id: UUID | str, invoices: Sequence[InvoiceData], actor: User
) -> list[ClaimInvoice]:
    policy.require(policy.can_declare_claims(actor))
    claim = lock_claim(claim_id)
    if claim.status not in ADDING_STATUSES:
        raise Conflict(
            _("On n'ajoute plus de factures à un sinistre %(status)s.")
            % {"status": claim.get_status_display().lower()}
        )
    _checked(contract=claim.contract, buyer=claim.buyer, invoices=invoices)
    written = _invoices_write(claim=claim, invoices=invoices)
    event_record(
        action=ClaimEvent.INVOICES_ADDED,
        actor=actor,
        obj=claim,
        policyholder=claim.policyholder,
        data={"invoices": [row.number for row in written]},
    )
    return written


@dataclass(frozen=True)
class UploadResult:
    """The file's lines, each with its verdict; `added` is empty unless every line passed."""

    lines: tuple[InvoiceLine, ...]
    added: tuple[ClaimInvoice, ...] = ()

    @property
    def accepted(self) -> bool:
        return bool(self.added)


def claim_invoices_upload(*, claim_id: UUID | str, content: bytes, actor: User) -> UploadResult:
    """Add the invoices of a CSV. A verdict per line; if any line is wrong, nothing is added."""
    policy.require(policy.can_declare_claims(actor))
    lines = read_invoice_csv(content)
    claim = Claim.objects.select_related("contract", "buyer").get(pk=claim_id)
    checked: list[InvoiceLine] = []
    numbers: dict[str, int] = {}
    already = set(
        ClaimInvoice.objects.filter(
            policyholder=claim.policyholder,
            buyer=claim.buyer,
            number__in=[line.invoice.number for line in lines if line.invoice],
        ).values_list("number", flat=True)
    )
    for line in lines:
        if line.invoice is None:
            checked.append(line)
            continue
        errors = [
            message
            for _field, message in invoice_errors(contract=claim.contract, data=line.invoice)
        ]
        if line.invoice.number in already:
            errors.append(_("déjà déclarée"))
        if line.invoice.number in numbers:
            errors.append(
                _("même n° qu'à la ligne %(line)s") % {"line": numbers[line.invoice.number]}
            )
        numbers.setdefault(line.invoice.number, line.line)
        checked.append(InvoiceLine(line=line.line, invoice=line.invoice, errors=tuple(errors)))
    if not all(line.accepted for line in checked):
        return UploadResult(lines=tuple(checked))
    added = claim_invoices_add(
        claim_id=claim.pk,
        invoices=[line.invoice for line in checked if line.invoice is not None],
        actor=actor,
    )
    return UploadResult(lines=tuple(checked), added=tuple(added))

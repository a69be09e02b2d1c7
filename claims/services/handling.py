"""The claims handler's side: recovery, the primary's settlement, the buyer's payments, the
top-up indemnity (computed by the layered rule, approved within the handler's authority or
countersigned above it), its payment, recoveries after payment, closing and declining.

    declared → in recovery → recovered (the buyer paid) → closed
                           → primary settled → indemnity computed → approved → paid → closed
    declined when the primary declines or nothing is covered.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from claims.events import ClaimEvent
from claims.indemnity import Indemnity, InvoiceInput, indemnity_compute, recovery_due_back
from claims.models import (
    Claim,
    ClaimInvoice,
    ClaimMovement,
    ClaimStatus,
    MoneyMovementKind,
    PrimaryOutcome,
)
from claims.services.coverage import WaitingPeriod, invoice_cover, waiting_period
from claims.services.declarations import lock_claim
from portal import policy
from portal.bulk import rows_update
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User
from portal.timeutils import business_today
from underwriting.rules import eur, money

ZERO = Decimal("0")


def _require_status(claim: Claim, *allowed: str) -> None:
    if claim.status not in allowed:
        raise Conflict(
            _("Impossible : le sinistre est « %(status)s ».")
            % {"status": claim.get_status_display()},
            code="claim_status",
        )


def _record(claim: Claim, action: ClaimEvent, actor: User | None, **data: Any) -> None:
    reason = str(data.pop("reason", ""))
    event_record(
        action=action,
        actor=actor,
        obj=claim,
        policyholder=claim.policyholder,
        reason=reason,
        data={key: str(value) if value is not None else None for key, value in data.items()},
    )


def _amount(value: Decimal | None, field: str) -> Decimal:
    if value is None or value <= 0:
        raise RuleViolation(_("Indiquez un montant positif."), field=field)
    return money(value)


def _not_future(day: date | None, field: str) -> date:
    if day is None:
        raise RuleViolation(_("Indiquez la date."), field=field)
    if day > business_today():
        raise RuleViolation(_("Cette date est dans le futur."), field=field)
    return day


def claim_waiting_period(claim: Claim) -> WaitingPeriod | None:
    invoices = list(claim.invoices.all())
    if not invoices:
        return None
    return waiting_period(
        contract=claim.contract,
        buyer=claim.buyer,
        earliest_due=min(invoice.due_date for invoice in invoices),
        since=min(invoice.delivery_date for invoice in invoices),
    )


@transaction.atomic(durable=True)
def claim_assign(*, claim_id: UUID | str, handler: User | None, actor: User) -> Claim:
    policy.require(policy.can_handle_claims(actor))
    if handler is not None and not (policy.can_handle_claims(handler) and handler.is_active):
        raise RuleViolation(_("Choisissez un gestionnaire sinistres."), field="handler")
    claim = lock_claim(claim_id)
    claim.handler = handler
    claim.save(update_fields=["handler"])
    _record(claim, ClaimEvent.ASSIGNED, actor, handler=handler.pk if handler else None)
    return claim


@transaction.atomic(durable=True)
def claim_recovery_start(*, claim_id: UUID | str, actor: User, note: str = "") -> Claim:
    """The primary insurer (and its recovery agents) pursue the buyer."""
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.DECLARED)
    claim.status = ClaimStatus.IN_RECOVERY
    if claim.handler is None:
        claim.handler = actor
    claim.save(update_fields=["status", "handler"])
    _record(claim, ClaimEvent.RECOVERY_STARTED, actor, reason=note)
    return claim


@transaction.atomic(durable=True)
def claim_buyer_payment_record(
    *, claim_id: UUID | str, amount: Decimal, received_on: date, actor: User, note: str = ""
) -> ClaimMovement:
    """The buyer paid part of what it owes before the settlement: it reduces the loss (oldest
    invoice first). When it paid everything, the claim is recovered."""
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.DECLARED, ClaimStatus.IN_RECOVERY)
    amount = _amount(amount, "amount")
    received_on = _not_future(received_on, "received_on")
    owed = claim.invoices.aggregate(total=Sum("amount"))["total"] or ZERO
    paid = _movements(claim, MoneyMovementKind.BUYER_PAYMENT)
    if paid + amount > owed:
        raise RuleViolation(
            _("L'acheteur ne doit plus que %(amount)s sur ce sinistre.")
            % {"amount": eur(owed - paid)},
            field="amount",
        )
    movement = ClaimMovement.objects.create(
        policyholder=claim.policyholder,
        claim=claim,
        kind=MoneyMovementKind.BUYER_PAYMENT,
        amount=amount,
        received_on=received_on,
        note=note[:200],
        recorded_by=actor,
    )
    _record(claim, ClaimEvent.BUYER_PAYMENT, actor, amount=amount, received_on=received_on)
    if paid + amount == owed:
        claim.status = ClaimStatus.RECOVERED
        claim.save(update_fields=["status"])
        _record(claim, ClaimEvent.RECOVERED, actor, reason=_("L'acheteur a tout payé."))
    return movement


def _movements(claim: Claim, kind: str) -> Decimal:
    total = claim.movements.filter(kind=kind).aggregate(total=Sum("amount"))["total"]
    return total or ZERO


@transaction.atomic(durable=True)
def claim_recovered(*, claim_id: UUID | str, actor: User, note: str = "") -> Claim:
    """The buyer paid: nothing to indemnify."""
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.DECLARED, ClaimStatus.IN_RECOVERY)
    claim.status = ClaimStatus.RECOVERED
    claim.save(update_fields=["status"])
    _record(claim, ClaimEvent.RECOVERED, actor, reason=note)
    return claim


@transaction.atomic(durable=True)
def claim_primary_settle(
    *, claim_id: UUID | str, amount: Decimal, settled_on: date, actor: User, note: str = ""
) -> Claim:
    """The primary insurer indemnified the policyholder: only now can the top-up be computed."""
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.DECLARED, ClaimStatus.IN_RECOVERY)
    if amount is None or amount < 0:
        raise RuleViolation(_("Indiquez le montant payé par le primaire."), field="amount")
    claim.primary_outcome = PrimaryOutcome.PAID
    claim.primary_paid = money(amount)
    claim.primary_settled_on = _not_future(settled_on, "settled_on")
    claim.primary_note = note
    claim.status = ClaimStatus.PRIMARY_SETTLED
    claim.save(
        update_fields=[
            "primary_outcome",
            "primary_paid",
            "primary_settled_on",
            "primary_note",
            "status",
        ]
    )
    _record(
        claim,
        ClaimEvent.PRIMARY_SETTLED,
        actor,
        amount=claim.primary_paid,
        settled_on=claim.primary_settled_on,
        reason=note,
    )
    return claim


@transaction.atomic(durable=True)
def claim_primary_decline(
    *, claim_id: UUID | str, settled_on: date, actor: User, reason: str
) -> Claim:
    """The primary refused the claim: the top-up follows and declines."""
    policy.require(policy.can_handle_claims(actor))
    if not reason.strip():
        raise RuleViolation(_("Indiquez le motif du refus du primaire."), field="reason")
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.DECLARED, ClaimStatus.IN_RECOVERY)
    claim.primary_outcome = PrimaryOutcome.DECLINED
    claim.primary_settled_on = _not_future(settled_on, "settled_on")
    claim.primary_note = reason
    claim.save(update_fields=["primary_outcome", "primary_settled_on", "primary_note"])
    _record(claim, ClaimEvent.PRIMARY_DECLINED, actor, settled_on=settled_on, reason=reason)
    _decline(claim, actor, _("Le primaire a refusé le sinistre : %(reason)s") % {"reason": reason})
    return claim


def _decline(claim: Claim, actor: User | None, reason: str) -> None:
    claim.status = ClaimStatus.DECLINED
    claim.decline_reason = reason
    claim.closed_at = timezone.now()
    claim.save(update_fields=["status", "decline_reason", "closed_at"])
    _record(claim, ClaimEvent.DECLINED, actor, reason=reason)


def claim_computation(claim: Claim) -> Indemnity:
    """The layered computation with the limits in force at each delivery date, read again now
    (a liquidation published late may have ended a top-up since the declaration)."""
    invoices: list[InvoiceInput] = []
    for invoice in claim.invoices.all():
        cover = invoice_cover(
            contract=claim.contract,
            buyer=claim.buyer,
            delivery_date=invoice.delivery_date,
            due_date=invoice.due_date,
        )
        invoices.append(
            InvoiceInput(
                number=invoice.number,
                amount=invoice.amount,
                invoice_date=invoice.invoice_date,
                delivery_date=invoice.delivery_date,
                due_date=invoice.due_date,
                primary_limit=cover.primary_limit,
                top_up_limit=cover.top_up_limit,
                exclusion=cover.exclusion,
            )
        )
    return indemnity_compute(
        invoices,
        insured_percentage=claim.contract.insured_percentage,
        buyer_payments=_movements(claim, MoneyMovementKind.BUYER_PAYMENT),
    )


def _as_json(result: Indemnity) -> dict[str, Any]:
    return {
        "insured_percentage": str(result.insured_percentage),
        "buyer_payments": str(result.buyer_payments),
        "loss": str(result.loss),
        "top_up_parts": str(result.top_up_parts),
        "exact": str(result.exact),
        "amount": str(result.amount),
        "rounding": str(result.rounding),
        "lines": [
            {
                "number": line.number,
                "delivery_date": line.delivery_date.isoformat(),
                "amount": str(line.amount),
                "paid_by_buyer": str(line.paid_by_buyer),
                "unpaid": str(line.unpaid),
                "exclusion": line.exclusion,
                "loss_before": str(line.loss_before),
                "loss_after": str(line.loss_after),
                "layer_from": str(line.layer_from),
                "layer_to": str(line.layer_to),
                "top_up_part": str(line.top_up_part),
                "insured_part": str(line.insured_part),
            }
            for line in result.lines
        ],
    }


@transaction.atomic(durable=True)
def claim_indemnity_compute(*, claim_id: UUID | str, actor: User) -> Claim:
    """Compute the top-up indemnity, once the primary has settled and the waiting period has
    ended. Nothing covered: the claim is declined, with the reasons per invoice."""
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.PRIMARY_SETTLED, ClaimStatus.INDEMNITY_COMPUTED)
    waiting = claim_waiting_period(claim)
    if waiting is not None and waiting.ends_on > business_today():
        raise Conflict(
            _("Le délai de carence court jusqu'au %(date)s : l'indemnité se calcule après.")
            % {"date": date_format(waiting.ends_on, "SHORT_DATE_FORMAT")},
            code="waiting_period",
        )
    result = claim_computation(claim)
    # The invoices show what the computation used: limits and coverage read again now.
    ids = dict(claim.invoices.values_list("number", "pk"))
    inputs = {line.number: line for line in result.inputs}
    numbers = list(inputs)
    rows_update(
        ClaimInvoice,
        [ids[number] for number in numbers],
        {
            "exclusion": ("text", [inputs[n].exclusion for n in numbers]),
            "primary_limit": ("numeric", [inputs[n].primary_limit for n in numbers]),
            "top_up_limit": ("numeric", [inputs[n].top_up_limit for n in numbers]),
        },
        only_changed=True,
    )
    claim.indemnity = result.amount
    claim.computation = _as_json(result)
    claim.computed_at = timezone.now()
    claim.computed_by = actor
    claim.status = ClaimStatus.INDEMNITY_COMPUTED
    claim.save(update_fields=["indemnity", "computation", "computed_at", "computed_by", "status"])
    _record(claim, ClaimEvent.INDEMNITY_COMPUTED, actor, amount=result.amount)
    if result.amount == 0:
        _decline(claim, actor, _("Le top-up ne couvre aucune part de la perte."))
    return claim


def claim_needs_countersignature(actor: User, amount: Decimal) -> bool:
    """Whether approving `amount` needs a countersignature (above the handler's authority;
    no authority recorded means none delegated)."""
    if policy.approves_indemnity_without_countersignature(actor):
        return False
    return actor.authority_amount is None or amount > actor.authority_amount


@transaction.atomic(durable=True)
def claim_indemnity_approve(*, claim_id: UUID | str, actor: User) -> Claim:
    """The handler approves within their authority; above it, a senior arbiter or an insurer
    admin countersigns."""
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.INDEMNITY_COMPUTED)
    assert claim.indemnity is not None
    claim.approved_by = actor
    if claim_needs_countersignature(actor, claim.indemnity):
        claim.status = ClaimStatus.AWAITING_COUNTERSIGNATURE
        claim.save(update_fields=["status", "approved_by"])
        _record(
            claim,
            ClaimEvent.COUNTERSIGNATURE_REQUESTED,
            actor,
            amount=claim.indemnity,
            authority=actor.authority_amount,
        )
        return claim
    claim.status = ClaimStatus.APPROVED
    claim.approved_at = timezone.now()
    claim.save(update_fields=["status", "approved_by", "approved_at"])
    _record(claim, ClaimEvent.APPROVED, actor, amount=claim.indemnity)
    return claim


@transaction.atomic(durable=True)
def claim_indemnity_countersign(
    *, claim_id: UUID | str, actor: User, approve: bool, note: str = ""
) -> Claim:
    claim = lock_claim(claim_id)
    policy.require(policy.can_countersign_indemnity(actor))
    _require_status(claim, ClaimStatus.AWAITING_COUNTERSIGNATURE)
    if not policy.can_countersign_indemnity(actor, proposed_by_id=claim.approved_by_id):
        raise RuleViolation(_("On ne contre-signe pas sa propre proposition."), field="approve")
    if not approve:
        if not note.strip():
            raise RuleViolation(_("Motivez le rejet."), field="note")
        claim.status = ClaimStatus.INDEMNITY_COMPUTED
        claim.save(update_fields=["status"])
        _record(claim, ClaimEvent.COUNTERSIGNATURE_DECLINED, actor, reason=note)
        return claim
    claim.status = ClaimStatus.APPROVED
    claim.countersigned_by = actor
    claim.approved_at = timezone.now()
    claim.save(update_fields=["status", "countersigned_by", "approved_at"])
    _record(claim, ClaimEvent.APPROVED, actor, amount=claim.indemnity, reason=note)
    return claim


@transaction.atomic(durable=True)
def claim_indemnity_pay(
    *, claim_id: UUID | str, paid_on: date, reference: str, actor: User
) -> Claim:
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.APPROVED)
    if not reference.strip():
        raise RuleViolation(_("Indiquez la référence du virement."), field="reference")
    claim.paid_on = _not_future(paid_on, "paid_on")
    claim.payment_reference = reference.strip()[:60]
    claim.status = ClaimStatus.PAID
    claim.save(update_fields=["paid_on", "payment_reference", "status"])
    _record(
        claim,
        ClaimEvent.PAID,
        actor,
        amount=claim.indemnity,
        paid_on=claim.paid_on,
        reference=claim.payment_reference,
    )
    return claim


@transaction.atomic(durable=True)
def claim_recovery_record(
    *, claim_id: UUID | str, amount: Decimal, received_on: date, actor: User, note: str = ""
) -> ClaimMovement:
    """Money recovered from the buyer after the indemnity was paid: shared pro rata to what each
    layer paid; the top-up's share is due back to the insurer."""
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.PAID, ClaimStatus.CLOSED)
    amount = _amount(amount, "amount")
    received = _movements(claim, MoneyMovementKind.RECOVERY) + amount
    due_back = recovery_due_back(
        recovered=received,
        top_up_paid=claim.indemnity or ZERO,
        primary_paid=claim.primary_paid or ZERO,
    )
    movement = ClaimMovement.objects.create(
        policyholder=claim.policyholder,
        claim=claim,
        kind=MoneyMovementKind.RECOVERY,
        amount=amount,
        received_on=_not_future(received_on, "received_on"),
        note=note[:200],
        due_back=due_back - claim.due_back,
        recorded_by=actor,
    )
    claim.due_back = due_back
    claim.save(update_fields=["due_back"])
    _record(
        claim,
        ClaimEvent.RECOVERY_RECORDED,
        actor,
        amount=amount,
        due_back=movement.due_back,
        received_on=movement.received_on,
    )
    return movement


@transaction.atomic(durable=True)
def claim_close(*, claim_id: UUID | str, actor: User, note: str = "") -> Claim:
    policy.require(policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    _require_status(claim, ClaimStatus.RECOVERED, ClaimStatus.PAID)
    claim.status = ClaimStatus.CLOSED
    claim.closed_at = timezone.now()
    claim.save(update_fields=["status", "closed_at"])
    _record(claim, ClaimEvent.CLOSED, actor, reason=note)
    return claim


@transaction.atomic(durable=True)
def claim_decline(*, claim_id: UUID | str, actor: User, reason: str) -> Claim:
    """The handler declines (nothing covered, or the claim is unfounded)."""
    policy.require(policy.can_handle_claims(actor))
    if not reason.strip():
        raise RuleViolation(_("Motivez le refus."), field="reason")
    claim = lock_claim(claim_id)
    _require_status(
        claim,
        ClaimStatus.DECLARED,
        ClaimStatus.IN_RECOVERY,
        ClaimStatus.PRIMARY_SETTLED,
        ClaimStatus.INDEMNITY_COMPUTED,
    )
    _decline(claim, actor, reason)
    return claim

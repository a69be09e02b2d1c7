"""Arbiters' decisions on top-up requests, and the senior arbiter's countersignature.

A decision carries an internal note (`rationale`, for the insurer) and an optional message to
the client; only the message ever leaves the insurer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User
from portal.timeutils import business_today
from underwriting import selectors
from underwriting.events import UnderwritingEvent
from underwriting.models import (
    CountersignatureState,
    Decision,
    DecisionOutcome,
    GuaranteeChange,
    GuaranteeRequest,
    PendingDecision,
    RequestStatus,
)
from underwriting.rules import ZERO, eur, money, seasonal_end_check
from underwriting.services.periods import Terms, insurer_supersede, period_open


def lock_request(request_id: UUID | str) -> GuaranteeRequest:
    # The row lock makes concurrent decisions on one request queue up: the second one sees
    # the status the first one wrote and is refused.
    return (
        GuaranteeRequest.objects.select_for_update(of=("self",))
        .select_related("contract__policyholder", "buyer", "policyholder", "submitted_by")
        .get(pk=request_id)
    )


def _needs_countersignature(*, actor: User, outcome: str, amount: Decimal) -> bool:
    if outcome == DecisionOutcome.REFUSED or policy.decides_without_countersignature(actor):
        return False
    # No authority amount recorded means no delegated authority: everything is countersigned.
    return actor.authority_amount is None or amount > actor.authority_amount


def _not_held(request: GuaranteeRequest, outcome: str) -> None:
    """A request held for open collective proceedings can be refused, not approved, until the
    arbiter resumes it."""
    if request.held_since is not None and outcome != DecisionOutcome.REFUSED:
        raise Conflict(
            _("Demande suspendue (%(reason)s) : reprenez-la avant de l'accorder, ou refusez-la.")
            % {"reason": request.hold_reason or _("procédure collective")},
            field="outcome",
            code="request_on_hold",
        )


def _validate(
    *,
    request: GuaranteeRequest,
    outcome: str,
    amount: Decimal | None,
    valid_from: date | None,
    valid_until: date | None,
    rationale: str,
) -> tuple[Decimal, date | None]:
    if outcome not in DecisionOutcome.values:
        raise RuleViolation(_("Décision inconnue."), field="outcome")
    _not_held(request, outcome)
    if outcome == DecisionOutcome.REFUSED:
        if not rationale.strip():
            raise RuleViolation(_("Motivez le refus (note interne)."), field="rationale")
        return ZERO, None
    amount = money(amount if amount is not None else request.requested_top_up)
    if outcome == DecisionOutcome.APPROVED and amount != request.requested_top_up:
        raise RuleViolation(
            _("Un accord porte sur le montant demandé (%(amount)s) ; sinon, accord partiel.")
            % {"amount": eur(request.requested_top_up)},
            field="amount",
        )
    if outcome == DecisionOutcome.PARTLY_APPROVED:
        if not 0 < amount < request.requested_top_up:
            raise RuleViolation(
                _("Un accord partiel porte sur un montant positif inférieur à %(amount)s.")
                % {"amount": eur(request.requested_top_up)},
                field="amount",
            )
        if not rationale.strip():
            raise RuleViolation(_("Motivez l'accord partiel (note interne)."), field="rationale")
    today = business_today()
    valid_from = valid_from or today
    if valid_from < today:
        raise RuleViolation(
            _("Une garantie ne peut pas prendre effet avant aujourd'hui."), field="valid_from"
        )
    seasonal_end_check(starts_on=valid_from, ends_on=valid_until, field="valid_until")
    limits = selectors.limits_for(
        contract=request.contract,
        buyer=request.buyer,
        exposure=request.exposure,
        primary=request.primary_amount,
        credit_term_days=request.credit_term_days,
        on=valid_from,
    )
    limits.enforce(amount, field="amount")
    return amount, valid_from


@dataclass(frozen=True)
class DecideResult:
    decision: Decision | None
    pending: PendingDecision | None


@dataclass(frozen=True)
class DecisionInput:
    outcome: str
    amount: Decimal
    valid_from: date | None
    valid_until: date | None
    rationale: str
    client_message: str = ""


def decision_record(
    *,
    request: GuaranteeRequest,
    data: DecisionInput,
    decided_by: User | None,
    countersigned_by: User | None,
    instant: bool,
) -> Decision:
    """Write the decision, close the request and, unless refused, open the new period (which
    replaces whatever was planned from its date). Runs in the calling action's transaction."""
    refused = data.outcome == DecisionOutcome.REFUSED
    decision = Decision.objects.create(
        policyholder=request.policyholder,
        request=request,
        outcome=data.outcome,
        amount=data.amount,
        valid_from=None if refused else data.valid_from,
        valid_until=None if refused else data.valid_until,
        rationale=data.rationale,
        client_message=data.client_message,
        decided_by=decided_by,
        countersigned_by=countersigned_by,
        instant=instant,
        decided_at=timezone.now(),
    )
    request.status = data.outcome
    request.closed_at = decision.decided_at
    request.save(update_fields=["status", "closed_at"])
    event_record(
        action=UnderwritingEvent.REQUEST_DECIDED,
        actor=decided_by,
        obj=request,
        policyholder=request.policyholder,
        reason=data.rationale,
        data={
            "decision": str(decision.pk),
            "outcome": data.outcome,
            "amount": str(data.amount),
            "instant": instant,
            "countersigned_by": str(countersigned_by.pk) if countersigned_by else "",
        },
    )
    if not refused and data.valid_from is not None:
        current = selectors.guarantee_in_force(
            contract=request.contract, buyer=request.buyer, on=data.valid_from
        )
        if current is None or data.amount == current.amount:
            change = GuaranteeChange.GRANT
        elif data.amount > current.amount:
            change = GuaranteeChange.INCREASE
        else:
            change = GuaranteeChange.REDUCTION
        insurer_supersede(
            contract=request.contract,
            buyer=request.buyer,
            on=data.valid_from,
            change=change,
            actor=decided_by,
            note=data.rationale,
        )
        period_open(
            contract=request.contract,
            buyer=request.buyer,
            starts_on=data.valid_from,
            terms=Terms(
                amount=data.amount,
                primary_amount=request.primary_amount,
                exposure=request.exposure,
                ends_before=data.valid_until + timedelta(days=1) if data.valid_until else None,
            ),
            change=change,
            actor=decided_by,
            # The period's note is shown to the policyholder (its guarantee history, the API):
            # the message to the client, never the internal note (kept on the decision).
            note=data.client_message,
            decision=decision,
        )
    return decision


@transaction.atomic(durable=True)
def guarantee_request_decide(
    *,
    request_id: UUID | str,
    outcome: str,
    actor: User,
    amount: Decimal | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    rationale: str = "",
    client_message: str = "",
) -> DecideResult:
    """Approve, partly approve or refuse. Above the arbiter's authority the decision waits for
    a senior arbiter's countersignature instead of taking effect."""
    policy.require(policy.can_decide(actor))
    request = lock_request(request_id)
    if request.status != RequestStatus.OPEN:
        raise Conflict(
            _("Cette demande n'attend plus de décision (%(status)s).")
            % {"status": request.get_status_display()}
        )
    amount, valid_from = _validate(
        request=request,
        outcome=outcome,
        amount=amount,
        valid_from=valid_from,
        valid_until=valid_until,
        rationale=rationale,
    )
    if _needs_countersignature(actor=actor, outcome=outcome, amount=amount):
        pending = PendingDecision.objects.create(
            policyholder=request.policyholder,
            request=request,
            outcome=outcome,
            amount=amount,
            valid_from=valid_from,
            valid_until=valid_until,
            rationale=rationale,
            client_message=client_message,
            proposed_by=actor,
            proposed_at=timezone.now(),
        )
        request.status = RequestStatus.AWAITING_COUNTERSIGNATURE
        request.save(update_fields=["status"])
        event_record(
            action=UnderwritingEvent.COUNTERSIGNATURE_REQUESTED,
            actor=actor,
            obj=request,
            policyholder=request.policyholder,
            reason=rationale,
            data={
                "outcome": outcome,
                "amount": str(amount),
                "authority": str(actor.authority_amount),
            },
        )
        return DecideResult(decision=None, pending=pending)
    decision = decision_record(
        request=request,
        data=DecisionInput(
            outcome=outcome,
            amount=amount,
            valid_from=valid_from,
            valid_until=valid_until,
            rationale=rationale,
            client_message=client_message,
        ),
        decided_by=actor,
        countersigned_by=None,
        instant=False,
    )
    return DecideResult(decision=decision, pending=None)


@transaction.atomic(durable=True)
def pending_decision_countersign(
    *, request_id: UUID | str, actor: User, approve: bool, note: str = ""
) -> DecideResult:
    policy.require(policy.can_countersign(actor))
    request = lock_request(request_id)
    pending = PendingDecision.objects.filter(
        request=request, state=CountersignatureState.PENDING
    ).first()
    if request.status != RequestStatus.AWAITING_COUNTERSIGNATURE or pending is None:
        raise Conflict(_("Aucune décision n'attend de contre-signature sur cette demande."))
    if not policy.can_countersign(actor, proposed_by_id=pending.proposed_by_id):
        raise RuleViolation(_("On ne contre-signe pas sa propre décision."), field="approve")
    if not approve and not note.strip():
        raise RuleViolation(_("Motivez le rejet."), field="note")
    pending.state = CountersignatureState.SIGNED if approve else CountersignatureState.DECLINED
    pending.resolved_by = actor
    pending.resolved_at = timezone.now()
    pending.resolution_note = note
    pending.save(update_fields=["state", "resolved_by", "resolved_at", "resolution_note"])
    if not approve:
        request.status = RequestStatus.OPEN
        request.save(update_fields=["status"])
        event_record(
            action=UnderwritingEvent.COUNTERSIGNATURE_DECLINED,
            actor=actor,
            obj=request,
            policyholder=request.policyholder,
            reason=note,
            data={"proposed_by": pending.proposed_by_id},
        )
        return DecideResult(decision=None, pending=pending)
    today = business_today()
    amount, valid_from = _validate(
        request=request,
        outcome=pending.outcome,
        amount=pending.amount,
        valid_from=max(pending.valid_from or today, today),
        valid_until=pending.valid_until,
        rationale=pending.rationale,
    )
    decision = decision_record(
        request=request,
        data=DecisionInput(
            outcome=pending.outcome,
            amount=amount,
            valid_from=valid_from,
            valid_until=pending.valid_until,
            rationale=pending.rationale,
            client_message=pending.client_message,
        ),
        decided_by=pending.proposed_by,
        countersigned_by=actor,
        instant=False,
    )
    return DecideResult(decision=decision, pending=pending)

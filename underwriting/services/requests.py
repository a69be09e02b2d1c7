"""Top-up requests: the live limits of the form, submission (with instant approval),
withdrawal, assignment to an arbiter, and the hold that collective proceedings put on them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record, events_record_bulk
from portal.models import User
from portal.timeutils import business_today
from underwriting import selectors
from underwriting.events import UnderwritingEvent
from underwriting.models import (
    OPEN_STATUSES,
    Buyer,
    Contract,
    DecisionOutcome,
    Guarantee,
    GuaranteeRequest,
    ProceedingsStatus,
    RequestReason,
    RequestStatus,
)
from underwriting.rules import (
    ZERO,
    Rule,
    TopUpLimits,
    eur,
    money,
    primary_from_percent,
    seasonal_end_check,
)
from underwriting.services.decisions import DecisionInput, decision_record, lock_request

# Service level: an arbiter answers a request within two days of its submission.
REQUEST_SLA = timedelta(hours=48)


@dataclass(frozen=True)
class RequestInput:
    """What a wholesaler types: the primary either as an amount or as a percentage of exposure,
    the top-up either as an amount or as "the most I can get"."""

    exposure: Decimal
    primary_amount: Decimal | None = None
    primary_percent: Decimal | None = None
    requested_top_up: Decimal | None = None
    wants_maximum: bool = False
    credit_term_days: int | None = None

    def primary(self) -> Decimal:
        if self.primary_amount is not None:
            return money(self.primary_amount)
        if self.primary_percent is not None:
            return primary_from_percent(exposure=self.exposure, percent=self.primary_percent)
        raise RuleViolation(
            _("Indiquez la limite primaire, en montant ou en pourcentage de l'encours."),
            field="primary_amount",
        )


@dataclass(frozen=True)
class LimitsAnswer:
    limits: TopUpLimits
    primary: Decimal
    breach: Rule | None


def request_limits(
    *, contract: Contract, buyer: Buyer, data: RequestInput, actor: User
) -> LimitsAnswer:
    """The live answer of the request form: the largest top-up and the rule that sets it."""
    policy.require(policy.can_request_top_up(actor))
    primary = data.primary()
    limits = selectors.limits_for(
        contract=contract,
        buyer=buyer,
        exposure=money(data.exposure),
        primary=primary,
        credit_term_days=data.credit_term_days,
    )
    breach = None
    if data.requested_top_up is not None and not data.wants_maximum:
        breach = limits.breach(money(data.requested_top_up))
    return LimitsAnswer(limits=limits, primary=primary, breach=breach)


def _instant_approval_applies(*, contract: Contract, buyer: Buyer, amount: Decimal) -> bool:
    if contract.discretionary_limit is None or amount <= 0:
        return False
    if amount > contract.discretionary_limit:
        return False
    # The registry's latest word on the buyer (the monitoring sweep may just have moved it).
    buyer.refresh_from_db(fields=["grade", "proceedings"])
    if contract.instant_min_grade is not None and buyer.grade < contract.instant_min_grade:
        return False
    if buyer.proceedings != ProceedingsStatus.NONE:
        return False
    # A change already taking effect today is left as it is: the arbiter decides.
    return not Guarantee.objects.filter(
        contract=contract, buyer=buyer, period__startswith__gte=business_today()
    ).exists()


def _previous_by_key(
    *, contract: Contract, idempotency_key: str, fingerprint: str
) -> GuaranteeRequest | None:
    if not idempotency_key:
        return None
    previous = GuaranteeRequest.objects.filter(
        policyholder=contract.policyholder, idempotency_key=idempotency_key
    ).first()
    if previous is not None and fingerprint and previous.idempotency_fingerprint != fingerprint:
        raise Conflict(
            _("Cette clé d'idempotence a déjà servi pour une autre demande."),
            field="Idempotency-Key",
        )
    return previous


@transaction.atomic(durable=True)
def guarantee_request_submit(
    *,
    contract: Contract,
    buyer: Buyer,
    data: RequestInput,
    reason: str,
    submitted_by: User,
    seasonal_until: date | None = None,
    comment: str = "",
    idempotency_key: str = "",
    fingerprint: str = "",
) -> tuple[GuaranteeRequest, bool]:
    """Check every rule, file the request, approve it at once when the contract allows.

    Returns `(request, created)`; a retry with the same idempotency key returns the first
    request and `created=False`, never a second request.
    """
    policy.require(policy.can_request_top_up(submitted_by))
    previous = _previous_by_key(
        contract=contract, idempotency_key=idempotency_key, fingerprint=fingerprint
    )
    if previous is not None:
        return previous, False
    if reason not in RequestReason.values:
        raise RuleViolation(_("Motif inconnu."), field="reason")
    today = business_today()
    if seasonal_until is not None and seasonal_until < today:
        raise RuleViolation(
            _("La fin de la limite saisonnière ne peut pas être passée."), field="seasonal_until"
        )
    seasonal_end_check(starts_on=today, ends_on=seasonal_until, field="seasonal_until")
    exposure = money(data.exposure)
    primary = data.primary()
    limits = selectors.limits_for(
        contract=contract,
        buyer=buyer,
        exposure=exposure,
        primary=primary,
        credit_term_days=data.credit_term_days,
        on=today,
    )
    if data.wants_maximum:
        limits.enforce(Decimal("0.01"))
        requested = limits.max_top_up
    else:
        if data.requested_top_up is None or data.requested_top_up <= 0:
            raise RuleViolation(
                _("Indiquez le top-up demandé, ou cochez « le maximum possible »."),
                field="requested_top_up",
            )
        requested = money(data.requested_top_up)
        limits.enforce(requested)
    already = GuaranteeRequest.objects.filter(
        contract=contract,
        buyer=buyer,
        status__in=[RequestStatus.OPEN, RequestStatus.AWAITING_COUNTERSIGNATURE],
    ).first()
    if already is not None:
        raise Conflict(
            _("Une demande est déjà en cours sur cet acheteur (déposée le %(date)s).")
            % {"date": date_format(timezone.localtime(already.submitted_at), "SHORT_DATE_FORMAT")},
            field="buyer",
            request_id=str(already.pk),
        )
    now = timezone.now()
    request = GuaranteeRequest(
        policyholder=contract.policyholder,
        contract=contract,
        buyer=buyer,
        exposure=exposure,
        primary_amount=primary,
        requested_top_up=requested,
        wants_maximum=data.wants_maximum,
        credit_term_days=data.credit_term_days or 0,
        reason=reason,
        seasonal_until=seasonal_until,
        comment=comment,
        submitted_by=submitted_by,
        submitted_at=now,
        due_at=now + REQUEST_SLA,
        assigned_to=contract.policyholder.dedicated_arbiter,
        idempotency_key=idempotency_key,
        idempotency_fingerprint=fingerprint,
    )
    try:
        with transaction.atomic():
            request.save(force_insert=True)
    except IntegrityError:
        previous = _previous_by_key(
            contract=contract, idempotency_key=idempotency_key, fingerprint=""
        )
        if previous is not None:
            return previous, False
        raise Conflict(
            _("Une demande est déjà en cours sur cet acheteur."), field="buyer"
        ) from None
    instant = _instant_approval_applies(contract=contract, buyer=buyer, amount=requested)
    event_record(
        action=UnderwritingEvent.REQUEST_SUBMITTED,
        actor=submitted_by,
        obj=request,
        policyholder=contract.policyholder,
        reason=comment,
        data={
            "requested_top_up": str(requested),
            "max_top_up": str(limits.max_top_up),
            "instant": instant,
        },
    )
    if instant:
        limit = eur(contract.discretionary_limit or ZERO)
        message = _("Accord immédiat dans la limite discrétionnaire du contrat (%(limit)s).") % {
            "limit": limit
        }
        decision_record(
            request=request,
            data=DecisionInput(
                outcome=DecisionOutcome.APPROVED,
                amount=requested,
                valid_from=today,
                valid_until=seasonal_until,
                rationale=message,
                client_message=message,
            ),
            decided_by=None,
            countersigned_by=None,
            instant=True,
        )
    return request, True


@transaction.atomic(durable=True)
def guarantee_request_withdraw(
    *, request_id: UUID | str, actor: User, reason: str = ""
) -> GuaranteeRequest:
    policy.require(policy.can_withdraw_request(actor))
    request = lock_request(request_id)
    if request.status != RequestStatus.OPEN:
        raise Conflict(_("Seule une demande en attente de décision peut être retirée."))
    request.status = RequestStatus.WITHDRAWN
    request.closed_at = timezone.now()
    request.save(update_fields=["status", "closed_at"])
    event_record(
        action=UnderwritingEvent.REQUEST_WITHDRAWN,
        actor=actor,
        obj=request,
        policyholder=request.policyholder,
        reason=reason,
    )
    return request


@transaction.atomic(durable=True)
def guarantee_request_assign(
    *, request_id: UUID | str, arbiter: User | None, actor: User
) -> GuaranteeRequest:
    policy.require(policy.can_assign_requests(actor))
    if arbiter is not None and not (policy.can_decide(arbiter) and arbiter.is_active):
        raise RuleViolation(_("Choisissez un arbitre."), field="arbiter")
    request = lock_request(request_id)
    if not request.is_open:
        raise Conflict(_("Cette demande n'est plus en attente."))
    previous = request.assigned_to_id
    request.assigned_to = arbiter
    request.save(update_fields=["assigned_to"])
    event_record(
        action=UnderwritingEvent.REQUEST_ASSIGNED,
        actor=actor,
        obj=request,
        policyholder=request.policyholder,
        data={"from": str(previous or ""), "to": str(arbiter.pk if arbiter else "")},
    )
    return request


def guarantee_requests_hold(*, buyer_ids: Iterable[UUID], reason: str) -> int:
    """Hold every open request on these buyers for the arbiter (collective proceedings opened).
    A building block: runs in the caller's transaction (the monitoring sweep), with the scope
    of all policyholders. Returns how many requests it held."""
    requests = list(
        GuaranteeRequest.objects.select_for_update(of=("self",))
        .filter(buyer_id__any=list(buyer_ids), status__in=OPEN_STATUSES, held_since__isnull=True)
        .select_related("buyer", "policyholder__dedicated_arbiter", "assigned_to")
        .order_by("pk")
    )
    now = timezone.now()
    for request in requests:
        request.held_since = now
        request.hold_reason = reason[:200]
    GuaranteeRequest.objects.bulk_update(requests, ["held_since", "hold_reason"])
    if requests:
        events_record_bulk(
            action=UnderwritingEvent.REQUEST_HELD,
            actor=None,
            items=[(request, request.policyholder, {"reason": reason}) for request in requests],
        )
    return len(requests)


@transaction.atomic(durable=True)
def guarantee_request_resume(
    *, request_id: UUID | str, actor: User, note: str = ""
) -> GuaranteeRequest:
    """The arbiter resumes a request held for collective proceedings: it can be decided again
    (instant approval never applies while proceedings are open)."""
    policy.require(policy.can_decide(actor))
    request = lock_request(request_id)
    if not request.is_open or request.held_since is None:
        raise Conflict(_("Cette demande n'est pas suspendue."))
    held_since, reason = request.held_since, request.hold_reason
    request.held_since = None
    request.hold_reason = ""
    request.save(update_fields=["held_since", "hold_reason"])
    event_record(
        action=UnderwritingEvent.REQUEST_RESUMED,
        actor=actor,
        obj=request,
        policyholder=request.policyholder,
        reason=note,
        data={"held_since": held_since.isoformat(), "hold_reason": reason},
    )
    return request

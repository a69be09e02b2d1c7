"""Writes for underwriting: buyers, top-up requests, decisions, countersignatures, guarantees.

Every state change is one function here: it locks what it changes, writes the change and its
audit row, and sends notifications after commit. Pages, the API and tasks all call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.errors import Conflict, RuleViolation
from portal.models import Organisation, Role, User
from portal.services import audit_record, notification_send
from portal.timeutils import business_today
from underwriting import selectors
from underwriting.identifiers import parse_company_id
from underwriting.models import (
    Buyer,
    Contract,
    CountersignatureState,
    Decision,
    DecisionOutcome,
    Guarantee,
    GuaranteeChange,
    GuaranteeRequest,
    PendingDecision,
    ProceedingsStatus,
    RequestReason,
    RequestStatus,
    SeasonalExpiry,
)
from underwriting.rules import ZERO, eur, money, primary_from_percent

# Service level: an arbiter answers a request within two days of its submission.
REQUEST_SLA = timedelta(hours=48)
DECIDER_ROLES = {Role.ARBITER, Role.SENIOR_ARBITER}


# --- buyers -------------------------------------------------------------------------------


def buyer_find_or_create(*, identifier: str, name: str = "", actor: User | None) -> Buyer:
    """The buyer with this SIREN / SIRET / VAT number, created if the identifier is unknown."""
    company = parse_company_id(identifier, field="identifier")
    existing = selectors.buyer_by_company_id(
        siren=company.siren, vat_number=company.vat_number
    ).first()
    if existing is not None:
        return existing
    name = (name or "").strip()
    if not name:
        raise RuleViolation(
            _("Acheteur inconnu : indiquez sa raison sociale pour le créer."), field="name"
        )
    try:
        with transaction.atomic():
            buyer = Buyer.objects.create(
                siren=company.siren,
                vat_number=company.vat_number,
                country=company.country,
                name=name[:200],
            )
            audit_record(
                actor=actor, action="buyer.created", obj=buyer, data={"identifier": identifier}
            )
    except IntegrityError:
        # Created at the same moment by someone else: the registry is global.
        buyer = selectors.buyer_by_company_id(
            siren=company.siren, vat_number=company.vat_number
        ).get()
    return buyer


# --- requests -----------------------------------------------------------------------------


def _policyholder_recipients(policyholder: Organisation, *extra: User | None) -> list[User]:
    users = list(
        policyholder.users.filter(role__in=[Role.CREDIT_MANAGER, Role.ORG_ADMIN], is_active=True)
    )
    return [*users, *(user for user in extra if user is not None)]


def _request_link(request: GuaranteeRequest) -> str:
    return reverse("request_detail", kwargs={"request_id": request.pk})


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


def request_limits(*, contract: Contract, buyer: Buyer, data: RequestInput) -> dict[str, object]:
    """The live answer of the request form: the largest top-up and the rule that sets it."""
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
    return {"limits": limits, "primary": primary, "breach": breach}


def _instant_approval_applies(*, contract: Contract, buyer: Buyer, amount: Decimal) -> bool:
    if contract.discretionary_limit is None or amount <= 0:
        return False
    if amount > contract.discretionary_limit:
        return False
    if contract.instant_min_grade is not None and buyer.grade < contract.instant_min_grade:
        return False
    if buyer.proceedings != ProceedingsStatus.NONE:
        return False
    # A change already taking effect today cannot be superseded the same day.
    return not Guarantee.objects.filter(
        contract=contract, buyer=buyer, period__startswith__gte=business_today()
    ).exists()


@transaction.atomic
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
    policyholder = contract.policyholder
    if idempotency_key:
        previous = GuaranteeRequest.objects.filter(
            policyholder=policyholder, idempotency_key=idempotency_key
        ).first()
        if previous is not None:
            if fingerprint and previous.idempotency_fingerprint != fingerprint:
                raise Conflict(
                    _("Cette clé d'idempotence a déjà servi pour une autre demande."),
                    field="Idempotency-Key",
                )
            return previous, False
    if reason not in RequestReason.values:
        raise RuleViolation(_("Motif inconnu."), field="reason")
    today = business_today()
    if seasonal_until is not None and seasonal_until < today:
        raise RuleViolation(
            _("La fin de la limite saisonnière ne peut pas être passée."), field="seasonal_until"
        )
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
        policyholder=policyholder,
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
        assigned_to=policyholder.dedicated_arbiter,
        idempotency_key=idempotency_key,
        idempotency_fingerprint=fingerprint,
    )
    try:
        with transaction.atomic():
            request.save(force_insert=True)
    except IntegrityError:
        if idempotency_key:
            previous = GuaranteeRequest.objects.filter(
                policyholder=policyholder, idempotency_key=idempotency_key
            ).first()
            if previous is not None:
                return previous, False
        raise Conflict(
            _("Une demande est déjà en cours sur cet acheteur."), field="buyer"
        ) from None
    audit_record(
        actor=submitted_by,
        action="guarantee_request.submitted",
        obj=request,
        policyholder=policyholder,
        reason=comment,
        data={"requested_top_up": str(requested), "max_top_up": str(limits.max_top_up)},
    )
    if _instant_approval_applies(contract=contract, buyer=buyer, amount=requested):
        _decision_record(
            request=request,
            outcome=DecisionOutcome.APPROVED,
            amount=requested,
            valid_from=today,
            valid_until=seasonal_until,
            rationale=_("Accord immédiat dans la limite discrétionnaire du contrat (%(limit)s).")
            % {"limit": eur(contract.discretionary_limit or ZERO)},
            decided_by=None,
            countersigned_by=None,
            instant=True,
        )
    elif request.assigned_to is not None:
        notification_send(
            recipients=[request.assigned_to],
            subject=_("Nouvelle demande de top-up : %(buyer)s") % {"buyer": buyer.name},
            body=_("%(policyholder)s demande %(amount)s.")
            % {"policyholder": policyholder.name, "amount": eur(requested)},
            link=reverse("arbiter_request", kwargs={"request_id": request.pk}),
        )
    return request, True


def _lock_request(request_id: object) -> GuaranteeRequest:
    # The row lock makes concurrent decisions on one request queue up: the second one sees
    # the status the first one wrote and is refused.
    return (
        GuaranteeRequest.objects.select_for_update(of=("self",))
        .select_related("contract", "buyer", "policyholder")
        .get(pk=request_id)
    )


@transaction.atomic
def guarantee_request_withdraw(
    *, request_id: object, actor: User, reason: str = ""
) -> GuaranteeRequest:
    request = _lock_request(request_id)
    if request.status != RequestStatus.OPEN:
        raise Conflict(_("Seule une demande en attente de décision peut être retirée."))
    request.status = RequestStatus.WITHDRAWN
    request.closed_at = timezone.now()
    request.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=actor,
        action="guarantee_request.withdrawn",
        obj=request,
        policyholder=request.policyholder,
        reason=reason,
    )
    return request


@transaction.atomic
def guarantee_request_assign(
    *, request_id: object, arbiter: User | None, actor: User
) -> GuaranteeRequest:
    if arbiter is not None and not (arbiter.is_arbiter and arbiter.is_active):
        raise RuleViolation(_("Choisissez un arbitre."), field="arbiter")
    request = _lock_request(request_id)
    if not request.is_open:
        raise Conflict(_("Cette demande n'est plus en attente."))
    previous = request.assigned_to_id
    request.assigned_to = arbiter
    request.save(update_fields=["assigned_to"])
    audit_record(
        actor=actor,
        action="guarantee_request.assigned",
        obj=request,
        policyholder=request.policyholder,
        data={"from": str(previous or ""), "to": str(arbiter.pk if arbiter else "")},
    )
    return request


# --- decisions ----------------------------------------------------------------------------


def _needs_countersignature(*, actor: User, outcome: str, amount: Decimal) -> bool:
    if outcome == DecisionOutcome.REFUSED or actor.role == Role.SENIOR_ARBITER:
        return False
    # No authority amount recorded means no delegated authority: everything is countersigned.
    return actor.authority_amount is None or amount > actor.authority_amount


def _validate_decision(
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
    if outcome == DecisionOutcome.REFUSED:
        if not rationale.strip():
            raise RuleViolation(_("Motivez le refus."), field="rationale")
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
            raise RuleViolation(_("Motivez l'accord partiel."), field="rationale")
    today = business_today()
    valid_from = valid_from or today
    if valid_from < today:
        raise RuleViolation(
            _("Une garantie ne peut pas prendre effet avant aujourd'hui."), field="valid_from"
        )
    if valid_until is not None and valid_until < valid_from:
        raise RuleViolation(_("La fin de validité précède la date d'effet."), field="valid_until")
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


@transaction.atomic
def guarantee_request_decide(
    *,
    request_id: object,
    outcome: str,
    actor: User,
    amount: Decimal | None = None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    rationale: str = "",
) -> DecideResult:
    """Approve, partly approve or refuse. Above the arbiter's authority the decision waits for
    a senior arbiter's countersignature instead of taking effect."""
    if not (actor.is_arbiter and actor.role in DECIDER_ROLES):
        raise RuleViolation(_("Seul un arbitre peut décider."), field="outcome")
    request = _lock_request(request_id)
    if request.status != RequestStatus.OPEN:
        raise Conflict(
            _("Cette demande n'attend plus de décision (%(status)s).")
            % {"status": request.get_status_display()}
        )
    amount, valid_from = _validate_decision(
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
            proposed_by=actor,
            proposed_at=timezone.now(),
        )
        request.status = RequestStatus.AWAITING_COUNTERSIGNATURE
        request.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="guarantee_request.countersignature_requested",
            obj=request,
            policyholder=request.policyholder,
            reason=rationale,
            data={
                "outcome": outcome,
                "amount": str(amount),
                "authority": str(actor.authority_amount),
            },
        )
        seniors = User.objects.filter(
            organisation=actor.organisation, role=Role.SENIOR_ARBITER, is_active=True
        )
        notification_send(
            recipients=seniors,
            subject=_("Contre-signature demandée : %(buyer)s, %(amount)s")
            % {"buyer": request.buyer.name, "amount": eur(amount)},
            body=_("%(arbiter)s propose : %(outcome)s.")
            % {"arbiter": actor, "outcome": DecisionOutcome(outcome).label},
            link=reverse("arbiter_request", kwargs={"request_id": request.pk}),
        )
        return DecideResult(decision=None, pending=pending)
    decision = _decision_record(
        request=request,
        outcome=outcome,
        amount=amount,
        valid_from=valid_from,
        valid_until=valid_until,
        rationale=rationale,
        decided_by=actor,
        countersigned_by=None,
        instant=False,
    )
    return DecideResult(decision=decision, pending=None)


@transaction.atomic
def pending_decision_countersign(
    *, request_id: object, actor: User, approve: bool, note: str = ""
) -> DecideResult:
    if actor.role != Role.SENIOR_ARBITER or not actor.is_insurer_staff:
        raise RuleViolation(_("Seul un arbitre senior peut contre-signer."), field="approve")
    request = _lock_request(request_id)
    pending = PendingDecision.objects.filter(
        request=request, state=CountersignatureState.PENDING
    ).first()
    if request.status != RequestStatus.AWAITING_COUNTERSIGNATURE or pending is None:
        raise Conflict(_("Aucune décision n'attend de contre-signature sur cette demande."))
    if pending.proposed_by_id == actor.pk:
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
        audit_record(
            actor=actor,
            action="guarantee_request.countersignature_declined",
            obj=request,
            policyholder=request.policyholder,
            reason=note,
        )
        notification_send(
            recipients=[pending.proposed_by],
            subject=_("Contre-signature refusée : %(buyer)s") % {"buyer": request.buyer.name},
            body=note,
            link=reverse("arbiter_request", kwargs={"request_id": request.pk}),
        )
        return DecideResult(decision=None, pending=pending)
    amount, valid_from = _validate_decision(
        request=request,
        outcome=pending.outcome,
        amount=pending.amount,
        valid_from=max(pending.valid_from or business_today(), business_today()),
        valid_until=pending.valid_until,
        rationale=pending.rationale,
    )
    decision = _decision_record(
        request=request,
        outcome=pending.outcome,
        amount=amount,
        valid_from=valid_from,
        valid_until=pending.valid_until,
        rationale=pending.rationale,
        decided_by=pending.proposed_by,
        countersigned_by=actor,
        instant=False,
    )
    return DecideResult(decision=decision, pending=pending)


def _decision_record(
    *,
    request: GuaranteeRequest,
    outcome: str,
    amount: Decimal,
    valid_from: date | None,
    valid_until: date | None,
    rationale: str,
    decided_by: User | None,
    countersigned_by: User | None,
    instant: bool,
) -> Decision:
    decision = Decision.objects.create(
        policyholder=request.policyholder,
        request=request,
        outcome=outcome,
        amount=amount,
        valid_from=valid_from if outcome != DecisionOutcome.REFUSED else None,
        valid_until=valid_until if outcome != DecisionOutcome.REFUSED else None,
        rationale=rationale,
        decided_by=decided_by,
        countersigned_by=countersigned_by,
        instant=instant,
        decided_at=timezone.now(),
    )
    request.status = outcome
    request.closed_at = decision.decided_at
    request.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=decided_by,
        action="guarantee_request.decided",
        obj=request,
        policyholder=request.policyholder,
        reason=rationale,
        data={
            "decision": str(decision.pk),
            "outcome": outcome,
            "amount": str(amount),
            "instant": instant,
            "countersigned_by": str(countersigned_by.pk) if countersigned_by else "",
        },
    )
    if outcome != DecisionOutcome.REFUSED and valid_from is not None:
        current = selectors.guarantee_in_force(
            contract=request.contract, buyer=request.buyer, on=valid_from
        )
        if current is None:
            change = GuaranteeChange.GRANT
        elif amount > current.amount:
            change = GuaranteeChange.INCREASE
        elif amount < current.amount:
            change = GuaranteeChange.REDUCTION
        else:
            change = GuaranteeChange.GRANT
        _period_write(
            contract=request.contract,
            buyer=request.buyer,
            starts_on=valid_from,
            amount=amount,
            primary_amount=request.primary_amount,
            exposure=request.exposure,
            ends_before=valid_until + timedelta(days=1) if valid_until else None,
            change=change,
            actor=decided_by,
            note=rationale,
            decision=decision,
            field="valid_from",
        )
    subject = {
        DecisionOutcome.APPROVED: _("Top-up accordé : %(buyer)s, %(amount)s"),
        DecisionOutcome.PARTLY_APPROVED: _("Top-up accordé partiellement : %(buyer)s, %(amount)s"),
        DecisionOutcome.REFUSED: _("Top-up refusé : %(buyer)s"),
    }[DecisionOutcome(outcome)] % {"buyer": request.buyer.name, "amount": eur(amount)}
    notification_send(
        recipients=_policyholder_recipients(request.policyholder, request.submitted_by),
        subject=subject,
        body=rationale,
        link=_request_link(request),
    )
    return decision


# --- guarantee periods --------------------------------------------------------------------


def _period_write(
    *,
    contract: Contract,
    buyer: Buyer,
    starts_on: date,
    amount: Decimal | None,
    primary_amount: Decimal | None,
    exposure: Decimal | None,
    ends_before: date | None,
    change: str,
    actor: User | None,
    note: str,
    decision: Decision | None = None,
    field: str = "effective_on",
    inherit_end: bool = False,
) -> Guarantee | None:
    """Start a new period from `starts_on` (or just end the current one when `amount` is None).

    The period in force on `starts_on` is closed at `starts_on`: the only update a period ever
    receives. A change on or before a period that already takes effect later would rewrite
    history, so it is refused with the first date that works.
    """
    # One writer at a time per contract: periods are read, closed and added consistently.
    Contract.objects.select_for_update().filter(pk=contract.pk).first()
    later = (
        Guarantee.objects.filter(contract=contract, buyer=buyer, period__startswith__gte=starts_on)
        .order_by("-period")
        .first()
    )
    if later is not None:
        earliest = later.period.lower + timedelta(days=1)
        raise Conflict(
            _(
                "Une modification de cette garantie prend déjà effet le %(date)s : la suivante "
                "peut prendre effet au plus tôt le %(earliest)s."
            )
            % {
                "date": date_format(later.period.lower, "SHORT_DATE_FORMAT"),
                "earliest": date_format(earliest, "SHORT_DATE_FORMAT"),
            },
            field=field,
            earliest=earliest.isoformat(),
        )
    current = (
        Guarantee.objects.select_for_update()
        .filter(contract=contract, buyer=buyer, period__contains=starts_on)
        .first()
    )
    if current is not None:
        if inherit_end and ends_before is None:
            ends_before = current.period.upper
        current.period = DateRange(current.period.lower, starts_on, "[)")
        current.save(update_fields=["period"])
        audit_record(
            actor=actor,
            action="guarantee.closed",
            obj=current,
            policyholder=contract.policyholder,
            reason=note,
            data={"upper": starts_on.isoformat(), "change": change},
        )
    if amount is None or amount <= 0:
        return None
    guarantee = Guarantee.objects.create(
        policyholder=contract.policyholder,
        contract=contract,
        buyer=buyer,
        amount=amount,
        primary_amount=primary_amount if primary_amount is not None else current.primary_amount,  # type: ignore[union-attr]
        exposure=exposure if exposure is not None else (current.exposure if current else None),
        period=DateRange(starts_on, ends_before, "[)"),
        change=change,
        created_by=actor if actor is not None and actor.pk else None,
        note=note,
        decision=decision,
    )
    audit_record(
        actor=actor,
        action=f"guarantee.{change}",
        obj=guarantee,
        policyholder=contract.policyholder,
        reason=note,
        data={"amount": str(amount), "from": starts_on.isoformat()},
    )
    return guarantee


def _not_before_today(effective_on: date) -> None:
    if effective_on < business_today():
        raise RuleViolation(
            _("Une réduction n'est jamais rétroactive : choisissez aujourd'hui ou plus tard."),
            field="effective_on",
        )


def _current_for_change(*, guarantee: Guarantee, effective_on: date) -> Guarantee:
    current = selectors.guarantee_in_force(
        contract=guarantee.contract, buyer=guarantee.buyer, on=effective_on
    )
    if current is None:
        raise Conflict(
            _("Aucune garantie n'est en vigueur sur cet acheteur le %(date)s.")
            % {"date": date_format(effective_on, "SHORT_DATE_FORMAT")},
            field="effective_on",
        )
    return current


@transaction.atomic
def guarantee_reduce(
    *, guarantee: Guarantee, amount: Decimal, effective_on: date, actor: User, reason: str
) -> Guarantee | None:
    """Reduce the top-up from `effective_on` on; deliveries before stay covered as they were."""
    _not_before_today(effective_on)
    if not reason.strip():
        raise RuleViolation(_("Motivez la réduction."), field="reason")
    current = _current_for_change(guarantee=guarantee, effective_on=effective_on)
    amount = money(amount)
    if not 0 < amount < current.amount:
        raise RuleViolation(
            _("Le nouveau montant doit être positif et inférieur à %(amount)s (sinon, annulez).")
            % {"amount": eur(current.amount)},
            field="amount",
        )
    guarantee = _period_write(
        contract=current.contract,
        buyer=current.buyer,
        starts_on=effective_on,
        amount=amount,
        primary_amount=current.primary_amount,
        exposure=current.exposure,
        ends_before=None,
        inherit_end=True,
        change=GuaranteeChange.REDUCTION,
        actor=actor,
        note=reason,
    )
    _notify_change(
        current, _("Top-up réduit à %(amount)s") % {"amount": eur(amount)}, effective_on, reason
    )
    return guarantee


@transaction.atomic
def guarantee_cancel(*, guarantee: Guarantee, effective_on: date, actor: User, reason: str) -> None:
    """End the top-up from `effective_on` on (never before today)."""
    _not_before_today(effective_on)
    if not reason.strip():
        raise RuleViolation(_("Motivez l'annulation."), field="reason")
    current = _current_for_change(guarantee=guarantee, effective_on=effective_on)
    _period_write(
        contract=current.contract,
        buyer=current.buyer,
        starts_on=effective_on,
        amount=None,
        primary_amount=None,
        exposure=None,
        ends_before=None,
        change=GuaranteeChange.CANCELLATION,
        actor=actor,
        note=reason,
    )
    _notify_change(current, _("Top-up annulé"), effective_on, reason)


@transaction.atomic
def guarantee_primary_report(
    *,
    contract: Contract,
    buyer: Buyer,
    primary_amount: Decimal,
    effective_on: date,
    actor: User,
    note: str = "",
) -> Guarantee | None:
    """The policyholder reports a new primary limit P'. The top-up follows: capped at m × P'
    from that date, ended when P' = 0."""
    _not_before_today(effective_on)
    primary_amount = money(primary_amount)
    if primary_amount < 0:
        raise RuleViolation(
            _("La limite primaire ne peut pas être négative."), field="primary_amount"
        )
    current = selectors.guarantee_in_force(contract=contract, buyer=buyer, on=effective_on)
    if current is None:
        raise Conflict(
            _("Aucun top-up n'est en vigueur sur cet acheteur à cette date."), field="buyer"
        )
    if primary_amount == current.primary_amount:
        raise RuleViolation(
            _("La limite primaire est déjà de %(amount)s.") % {"amount": eur(primary_amount)},
            field="primary_amount",
        )
    cap = money(contract.top_up_multiple * primary_amount)
    new_amount = min(current.amount, cap)
    reason = note or _("Limite primaire déclarée : %(amount)s") % {"amount": eur(primary_amount)}
    guarantee = _period_write(
        contract=contract,
        buyer=buyer,
        starts_on=effective_on,
        amount=new_amount if primary_amount > 0 else None,
        primary_amount=primary_amount,
        exposure=current.exposure,
        ends_before=None,
        inherit_end=True,
        change=GuaranteeChange.PRIMARY_CHANGE,
        actor=actor,
        note=reason,
    )
    if new_amount < current.amount or primary_amount == 0:
        recipients = [contract.policyholder.dedicated_arbiter, actor]
        what = (
            _("Top-up terminé (limite primaire à zéro)")
            if primary_amount == 0
            else _("Top-up ramené à %(amount)s (suivi du primaire)") % {"amount": eur(new_amount)}
        )
        notification_send(
            recipients=[
                *_policyholder_recipients(contract.policyholder),
                *[r for r in recipients if r],
            ],
            subject=f"{what} : {buyer.name}",
            body=reason,
            link=reverse("buyer_page", kwargs={"contract_id": contract.pk, "buyer_id": buyer.pk}),
        )
    return guarantee


def _notify_change(current: Guarantee, what: str, effective_on: date, reason: str) -> None:
    notification_send(
        recipients=_policyholder_recipients(current.policyholder),
        subject=_("%(what)s : %(buyer)s, à partir du %(date)s")
        % {
            "what": what,
            "buyer": current.buyer.name,
            "date": date_format(effective_on, "SHORT_DATE_FORMAT"),
        },
        body=reason,
        link=reverse(
            "buyer_page", kwargs={"contract_id": current.contract_id, "buyer_id": current.buyer_id}
        ),
    )


@transaction.atomic
def guarantees_end_on_liquidation(*, buyer: Buyer, judgment_on: date, actor: User | None) -> int:
    """Liquidation ends every top-up on the buyer from the judgment date, the one case where an
    end may lie in the past (call with the scope of all policyholders). Returns how many
    periods it ended."""
    ended = 0
    for current in (
        Guarantee.objects.filter(buyer=buyer, period__contains=judgment_on)
        .select_related("contract__policyholder")
        .order_by("contract_id")
    ):
        _period_write(
            contract=current.contract,
            buyer=buyer,
            starts_on=judgment_on,
            amount=None,
            primary_amount=None,
            exposure=None,
            ends_before=None,
            change=GuaranteeChange.LIQUIDATION,
            actor=actor,
            note=_("Liquidation judiciaire de l'acheteur"),
        )
        ended += 1
    return ended


# --- seasonal expiry ----------------------------------------------------------------------


@transaction.atomic
def guarantee_expiry_record(
    *, guarantee_id: object, today: date | None = None
) -> SeasonalExpiry | None:
    """Record, once, that a seasonal period ended by itself and tell the policyholder."""
    guarantee = (
        Guarantee.objects.select_for_update(of=("self",))
        .select_related("buyer", "policyholder", "decision")
        .get(pk=guarantee_id)
    )
    upper = guarantee.period.upper
    if upper is None or upper > (today or business_today()):
        return None
    seasonal_end = guarantee.decision.valid_until if guarantee.decision else None
    if seasonal_end is None or upper != seasonal_end + timedelta(days=1):
        return None  # ended early by a cancellation, not by its own term
    if SeasonalExpiry.objects.filter(guarantee=guarantee).exists():
        return None
    if Guarantee.objects.filter(
        contract_id=guarantee.contract_id, buyer_id=guarantee.buyer_id, period__startswith=upper
    ).exists():
        return None  # followed by another period: it did not lapse, it was changed
    expiry = SeasonalExpiry.objects.create(
        policyholder=guarantee.policyholder, guarantee=guarantee, ended_on=upper
    )
    audit_record(
        actor=None,
        action="guarantee.expiry",
        obj=guarantee,
        policyholder=guarantee.policyholder,
        reason=_("Fin de la limite saisonnière"),
        data={"ended_on": upper.isoformat()},
    )
    last_day = upper - timedelta(days=1)
    notification_send(
        recipients=_policyholder_recipients(guarantee.policyholder),
        subject=_("Limite saisonnière échue : %(buyer)s") % {"buyer": guarantee.buyer.name},
        body=_("Le top-up de %(amount)s a pris fin le %(date)s au soir.")
        % {"amount": eur(guarantee.amount), "date": date_format(last_day, "SHORT_DATE_FORMAT")},
        link=reverse(
            "buyer_page",
            kwargs={"contract_id": guarantee.contract_id, "buyer_id": guarantee.buyer_id},
        ),
    )
    return expiry

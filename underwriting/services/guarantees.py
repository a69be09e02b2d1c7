"""The insurer's and the policyholder's changes to a guarantee in force: reduction,
cancellation, the primary limit reported by the policyholder, liquidation of the buyer, the end
of a seasonal limit. Each change is new periods (`periods`), never a rewrite."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from django.db import connection, transaction
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record, events_record_bulk
from portal.models import User
from portal.timeutils import business_today
from underwriting import selectors
from underwriting.events import UnderwritingEvent
from underwriting.models import Buyer, Contract, Guarantee, GuaranteeChange, SeasonalExpiry
from underwriting.rules import eur, money
from underwriting.services.periods import (
    Terms,
    insurer_supersede,
    lock_contract,
    period_close,
    period_in_force,
    period_open,
    policyholder_date_check,
)


def _insurer_date(effective_on: date) -> None:
    if effective_on < business_today():
        raise RuleViolation(
            _("Une réduction n'est jamais rétroactive : choisissez aujourd'hui ou plus tard."),
            field="effective_on",
        )


def _in_force(guarantee: Guarantee, effective_on: date) -> Guarantee:
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


@transaction.atomic(durable=True)
def guarantee_reduce(
    *, guarantee: Guarantee, amount: Decimal, effective_on: date, actor: User, reason: str
) -> Guarantee:
    """Reduce the top-up from `effective_on` on; deliveries before stay covered as they were.
    Whatever was planned from that date on is replaced."""
    policy.require(policy.can_change_guarantees(actor))
    _insurer_date(effective_on)
    if not reason.strip():
        raise RuleViolation(_("Motivez la réduction."), field="reason")
    current = _in_force(guarantee, effective_on)
    amount = money(amount)
    if not 0 < amount < current.amount:
        raise RuleViolation(
            _("Le nouveau montant doit être positif et inférieur à %(amount)s (sinon, annulez).")
            % {"amount": eur(current.amount)},
            field="amount",
        )
    superseded = insurer_supersede(
        contract=current.contract,
        buyer=current.buyer,
        on=effective_on,
        change=GuaranteeChange.REDUCTION,
        actor=actor,
        note=reason,
    )
    return period_open(
        contract=current.contract,
        buyer=current.buyer,
        starts_on=effective_on,
        terms=Terms(
            amount=amount,
            primary_amount=current.primary_amount,
            exposure=current.exposure,
            ends_before=superseded.natural_end,
        ),
        change=GuaranteeChange.REDUCTION,
        actor=actor,
        note=reason,
    )


@transaction.atomic(durable=True)
def guarantee_cancel(*, guarantee: Guarantee, effective_on: date, actor: User, reason: str) -> None:
    """End the top-up from `effective_on` on (never before today), whatever was planned."""
    policy.require(policy.can_change_guarantees(actor))
    _insurer_date(effective_on)
    if not reason.strip():
        raise RuleViolation(_("Motivez l'annulation."), field="reason")
    current = _in_force(guarantee, effective_on)
    insurer_supersede(
        contract=current.contract,
        buyer=current.buyer,
        on=effective_on,
        change=GuaranteeChange.CANCELLATION,
        actor=actor,
        note=reason,
    )
    event_record(
        action=UnderwritingEvent.CANCELLED,
        actor=actor,
        obj=current,
        policyholder=current.policyholder,
        reason=reason,
        data={"from": effective_on.isoformat(), "amount": str(current.amount)},
    )


@transaction.atomic(durable=True)
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
    from that date, ended when P' = 0. The date is the policyholder's: bounded."""
    policy.require(policy.can_report_primary(actor))
    primary_amount = money(primary_amount)
    if primary_amount < 0:
        raise RuleViolation(
            _("La limite primaire ne peut pas être négative."), field="primary_amount"
        )
    lock_contract(contract)
    policyholder_date_check(contract=contract, buyer=buyer, on=effective_on)
    current = period_in_force(contract=contract, buyer=buyer, on=effective_on)
    if current is None:
        raise Conflict(
            _("Aucun top-up n'est en vigueur sur cet acheteur à cette date."), field="buyer"
        )
    if primary_amount == current.primary_amount:
        raise RuleViolation(
            _("La limite primaire est déjà de %(amount)s.") % {"amount": eur(primary_amount)},
            field="primary_amount",
        )
    new_amount = min(current.amount, money(contract.top_up_multiple * primary_amount))
    reason = note or _("Limite primaire déclarée : %(amount)s") % {"amount": eur(primary_amount)}
    natural_end = current.period.upper
    if primary_amount < current.primary_amount:
        # A reduction by the primary is a health signal on the buyer (DESIGN §4 Monitoring),
        # raised while the reporter's own cover is still in force: it is exposed too.
        from monitoring.services.alerts import primary_reduction_alert

        primary_reduction_alert(
            guarantee=current,
            effective_on=effective_on,
            previous=current.primary_amount,
            reported=primary_amount,
            actor=actor,
        )
    period_close(
        current=current,
        on=effective_on,
        change=GuaranteeChange.PRIMARY_CHANGE,
        actor=actor,
        note=reason,
    )
    if primary_amount == 0:
        event_record(
            action=UnderwritingEvent.PRIMARY_FOLLOWED,
            actor=actor,
            obj=current,
            policyholder=contract.policyholder,
            reason=reason,
            data={
                "from": effective_on.isoformat(),
                "primary_amount": "0",
                "amount": "0",
                "previous_amount": str(current.amount),
            },
        )
        return None
    return period_open(
        contract=contract,
        buyer=buyer,
        starts_on=effective_on,
        terms=Terms(
            amount=new_amount,
            primary_amount=primary_amount,
            exposure=current.exposure,
            ends_before=natural_end,
        ),
        change=GuaranteeChange.PRIMARY_CHANGE,
        actor=actor,
        note=reason,
        data={"previous_amount": str(current.amount), "primary_amount": str(primary_amount)},
    )


def guarantees_end(
    *,
    guarantees: list[Guarantee],
    on: date,
    change: str,
    actor: User | None,
    note: str,
) -> int:
    """End each of these top-ups from `on` (an insurer-side end: liquidation, the contract's
    end), replacing what was planned. Runs in the caller's transaction."""
    for current in guarantees:
        insurer_supersede(
            contract=current.contract,
            buyer=current.buyer,
            on=on,
            change=change,
            actor=actor,
            note=note,
        )
    return len(guarantees)


@transaction.atomic
def guarantees_end_on_liquidation(*, buyer: Buyer, judgment_on: date, actor: User | None) -> int:
    """Liquidation ends every top-up on the buyer from the judgment date, the one case where an
    end may lie in the past (call with the scope of all policyholders). Returns how many
    top-ups (contract, buyer) it ended."""
    return guarantees_end_on_liquidations(judgments={buyer.pk: judgment_on}, actor=actor)


# Every period on a judged buyer that has cover on or after its judgment date, locked.
_LIQUIDATED_PERIODS = f"""
SELECT g.* FROM {Guarantee._meta.db_table} AS g
  JOIN unnest(%s::uuid[], %s::date[]) AS j (buyer_id, judged_on) ON g.buyer_id = j.buyer_id
 WHERE g.period && daterange(j.judged_on, NULL, '[)')
 ORDER BY g.contract_id, g.buyer_id, lower(g.period)
   FOR UPDATE OF g
"""  # noqa: S608 - the table name is the model's; values are bound

_CLOSE = f"""
UPDATE {Guarantee._meta.db_table} AS t SET period = daterange(lower(t.period), u.upper, '[)')
  FROM unnest(%s::uuid[], %s::date[]) AS u (id, upper)
 WHERE t.id = u.id
"""  # noqa: S608


def guarantees_end_on_liquidations(*, judgments: Mapping[UUID, date], actor: User | None) -> int:
    """End, set-based, the top-ups on many liquidated buyers, each from its judgment date D,
    with the same rules as an insurer change from D (`periods.insurer_supersede`):

    - a period that has not started and starts on or after D is a plan: it is replaced;
    - a period that started on or after D, before today (the judgment was published late), is
      history: it ends today;
    - the period in force on D (or a plan starting before D) ends on D.

    One event per change, recorded in bulk; the policyholders hear of each top-up ended. Runs
    in the caller's transaction, with the scope of all policyholders."""
    if not judgments:
        return 0
    today = business_today()
    buyer_ids = list(judgments)
    rows = list(
        Guarantee.objects.raw(_LIQUIDATED_PERIODS, [buyer_ids, [judgments[b] for b in buyer_ids]])
    )
    if not rows:
        return 0
    contracts = sorted({row.contract_id for row in rows})
    list(Contract.objects.select_for_update().filter(pk__in=contracts).order_by("pk").values("pk"))
    buyers = Buyer.objects.in_bulk({row.buyer_id for row in rows})
    for row in rows:
        row.buyer = buyers[row.buyer_id]
    note = _("Liquidation judiciaire de l'acheteur")
    plans: list[Guarantee] = []
    closes: list[tuple[Guarantee, date]] = []
    first: dict[tuple[UUID, UUID], Guarantee] = {}
    for row in rows:
        judged_on = judgments[row.buyer_id]
        lower, upper = row.period.lower, row.period.upper
        first.setdefault((row.contract_id, row.buyer_id), row)
        if lower >= max(judged_on, today):
            plans.append(row)
        elif lower >= judged_on:
            if upper is None or upper > today:
                closes.append((row, today))
        elif upper is None or upper > judged_on:
            closes.append((row, judged_on))
    change = GuaranteeChange.LIQUIDATION
    events_record_bulk(
        action=UnderwritingEvent.PLAN_REPLACED,
        actor=actor,
        items=[
            (
                plan,
                plan.policyholder_id,
                {
                    "amount": str(plan.amount),
                    "primary_amount": str(plan.primary_amount),
                    "lower": plan.period.lower.isoformat(),
                    "upper": plan.period.upper.isoformat() if plan.period.upper else None,
                    "change": plan.change,
                    "replaced_from": judgments[plan.buyer_id].isoformat(),
                },
            )
            for plan in plans
        ],
        reason=note,
    )
    if plans:
        Guarantee.objects.filter(pk__in=[plan.pk for plan in plans]).delete()
    if closes:
        with connection.cursor() as cursor:
            cursor.execute(_CLOSE, [[row.pk for row, _on in closes], [on for _row, on in closes]])
    events_record_bulk(
        action=UnderwritingEvent.PERIOD_CLOSED,
        actor=actor,
        items=[
            (row, row.policyholder_id, {"upper": on.isoformat(), "change": change})
            for row, on in closes
        ],
        reason=note,
    )
    ended = list(first.values())
    events_record_bulk(
        action=UnderwritingEvent.ENDED_BY_LIQUIDATION,
        actor=actor,
        items=[
            (
                row,
                row.policyholder_id,
                {"from": judgments[row.buyer_id].isoformat(), "amount": str(row.amount)},
            )
            for row in ended
        ],
    )
    return len(ended)


@transaction.atomic(durable=True)
def guarantee_expiry_record(
    *, guarantee_id: UUID | str, today: date | None = None
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
    event_record(
        action=UnderwritingEvent.EXPIRED,
        actor=None,
        obj=guarantee,
        policyholder=guarantee.policyholder,
        reason=_("Fin de la limite saisonnière"),
        data={"ended_on": upper.isoformat()},
    )
    return expiry

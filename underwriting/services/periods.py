"""Guarantee periods: the two operations every change is made of, and who may date them.

DESIGN §4: a change "from D" closes the period in force on D at D and opens a new one from D.
What has started is history and is only ever closed. A period that has not started yet is a
plan: a later insurer change from an earlier or the same date replaces it (the row is removed,
its content kept in the audit row). A policyholder's own dates are bounded: not on or before the
last change, and at most `POLICYHOLDER_DATE_WINDOW_DAYS` ahead, so that nothing it schedules
can stand in the insurer's way.

These are building blocks: they run inside the transaction of the action that calls them, which
has locked the contract first (`lock_contract`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User
from portal.timeutils import business_today
from underwriting.events import UnderwritingEvent
from underwriting.models import Buyer, Contract, Decision, Guarantee, GuaranteeChange

CHANGE_EVENTS = {
    GuaranteeChange.GRANT: UnderwritingEvent.GRANTED,
    GuaranteeChange.INCREASE: UnderwritingEvent.INCREASED,
    GuaranteeChange.REDUCTION: UnderwritingEvent.REDUCED,
    GuaranteeChange.CANCELLATION: UnderwritingEvent.CANCELLED,
    GuaranteeChange.PRIMARY_CHANGE: UnderwritingEvent.PRIMARY_FOLLOWED,
    GuaranteeChange.LIQUIDATION: UnderwritingEvent.ENDED_BY_LIQUIDATION,
    GuaranteeChange.CONTRACT_END: UnderwritingEvent.ENDED_WITH_CONTRACT,
    GuaranteeChange.EXPIRY: UnderwritingEvent.EXPIRED,
}


@dataclass(frozen=True)
class Terms:
    """What a new period holds."""

    amount: Decimal
    primary_amount: Decimal
    exposure: Decimal | None
    ends_before: date | None = None


def _short(day: date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def lock_contract(contract: Contract) -> None:
    """One writer at a time per contract: its periods are read, closed and added consistently."""
    Contract.objects.select_for_update().filter(pk=contract.pk).values_list("pk").first()


def period_in_force(*, contract: Contract, buyer: Buyer, on: date) -> Guarantee | None:
    return (
        Guarantee.objects.select_for_update(of=("self",))
        .filter(contract=contract, buyer=buyer, period__contains=on)
        .first()
    )


def policyholder_date_check(
    *, contract: Contract, buyer: Buyer, on: date, field: str = "effective_on"
) -> None:
    """Refuse a policyholder's date in the past, too far ahead, or on or before the last
    change on this buyer (which only the insurer may replace)."""
    today = business_today()
    if on < today:
        raise RuleViolation(
            _("Une modification n'est jamais rétroactive : choisissez aujourd'hui ou plus tard."),
            field=field,
        )
    latest = today + timedelta(days=settings.POLICYHOLDER_DATE_WINDOW_DAYS)
    if on > latest:
        raise RuleViolation(
            _("Choisissez une date au plus tard le %(latest)s (%(days)s jours à l'avance).")
            % {"latest": _short(latest), "days": settings.POLICYHOLDER_DATE_WINDOW_DAYS},
            field=field,
            latest=latest.isoformat(),
        )
    last = (
        Guarantee.objects.filter(contract=contract, buyer=buyer, period__startswith__gte=on)
        .order_by("-period")
        .first()
    )
    if last is not None:
        earliest = last.period.lower + timedelta(days=1)
        raise Conflict(
            _(
                "Une modification de cette garantie prend déjà effet le %(date)s : la suivante "
                "peut prendre effet au plus tôt le %(earliest)s."
            )
            % {"date": _short(last.period.lower), "earliest": _short(earliest)},
            field=field,
            earliest=earliest.isoformat(),
        )


def plans_replace(
    *, contract: Contract, buyer: Buyer, on: date, actor: User | None, note: str
) -> list[Guarantee]:
    """Remove the periods that start on or after `on` and have not started before today (an
    insurer change from `on` supersedes them), and return them, in date order.

    A change from today replaces a period that starts today: dates are whole days and a change
    from D applies on D itself. Only a retroactive end (liquidation) finds periods that started
    after its date and before today: those are history, closed today (`started_after`).
    """
    plans = list(
        Guarantee.objects.select_for_update(of=("self",))
        .filter(
            contract=contract,
            buyer=buyer,
            period__startswith__gte=max(on, business_today()),
        )
        .order_by("period")
    )
    for plan in plans:
        event_record(
            action=UnderwritingEvent.PLAN_REPLACED,
            actor=actor,
            obj=plan,
            policyholder=contract.policyholder,
            reason=note,
            data={
                "amount": str(plan.amount),
                "primary_amount": str(plan.primary_amount),
                "lower": plan.period.lower.isoformat(),
                "upper": plan.period.upper.isoformat() if plan.period.upper else None,
                "change": plan.change,
                "replaced_from": on.isoformat(),
            },
        )
        Guarantee.objects.filter(pk=plan.pk).delete()
    return plans


def started_after(*, contract: Contract, buyer: Buyer, on: date) -> list[Guarantee]:
    """Periods that started after `on` and before today: only a retroactive end finds any."""
    return list(
        Guarantee.objects.select_for_update(of=("self",))
        .filter(
            contract=contract,
            buyer=buyer,
            period__startswith__gt=on,
            period__startswith__lt=business_today(),
        )
        .order_by("period")
    )


def period_close(
    *, current: Guarantee, on: date, change: str, actor: User | None, note: str
) -> None:
    """End `current` at `on` (its new exclusive upper bound): the one update a period gets."""
    current.period = DateRange(current.period.lower, on, "[)")
    current.save(update_fields=["period"])
    event_record(
        action=UnderwritingEvent.PERIOD_CLOSED,
        actor=actor,
        obj=current,
        policyholder=current.policyholder,
        reason=note,
        data={"upper": on.isoformat(), "change": change},
    )


def period_open(
    *,
    contract: Contract,
    buyer: Buyer,
    starts_on: date,
    terms: Terms,
    change: str,
    actor: User | None,
    note: str,
    decision: Decision | None = None,
    data: dict[str, str] | None = None,
) -> Guarantee:
    guarantee = Guarantee.objects.create(
        policyholder=contract.policyholder,
        contract=contract,
        buyer=buyer,
        amount=terms.amount,
        primary_amount=terms.primary_amount,
        exposure=terms.exposure,
        period=DateRange(starts_on, terms.ends_before, "[)"),
        change=change,
        created_by=actor if actor is not None and actor.pk else None,
        note=note,
        decision=decision,
    )
    event_record(
        action=CHANGE_EVENTS[GuaranteeChange(change)],
        actor=actor,
        obj=guarantee,
        policyholder=contract.policyholder,
        reason=note,
        data={
            "amount": str(terms.amount),
            "from": starts_on.isoformat(),
            "decision": str(decision.pk) if decision else None,
            **(data or {}),
        },
    )
    return guarantee


@dataclass(frozen=True)
class Superseded:
    """What an insurer change from D found: the period it closed (if any) and the natural end of
    the cover it replaces (the latest upper bound among that period and the plans removed)."""

    current: Guarantee | None
    natural_end: date | None


def insurer_supersede(
    *, contract: Contract, buyer: Buyer, on: date, change: str, actor: User | None, note: str
) -> Superseded:
    """The insurer changes the cover from `on`: plans from `on` are replaced and the period in
    force on `on` is closed. The caller then opens the new period, if any."""
    lock_contract(contract)
    plans = plans_replace(contract=contract, buyer=buyer, on=on, actor=actor, note=note)
    today = business_today()
    for started in started_after(contract=contract, buyer=buyer, on=on):
        upper = started.period.upper
        if upper is None or upper > today:
            period_close(current=started, on=today, change=change, actor=actor, note=note)
    current = period_in_force(contract=contract, buyer=buyer, on=on)
    # The cover as scheduled ended where the last plan ended, else where the current one ends.
    if plans:
        natural_end = plans[-1].period.upper
    else:
        natural_end = current.period.upper if current is not None else None
    if current is not None:
        period_close(current=current, on=on, change=change, actor=actor, note=note)
    return Superseded(current=current, natural_end=natural_end)

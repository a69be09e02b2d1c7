"""Plans and bounds (DESIGN §4): a policyholder's dates are bounded, what has not started yet is
a plan that any later insurer change replaces, and what has started is never touched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db.backends.postgresql.psycopg_any import DateRange

from portal.errors import Conflict, RuleViolation
from portal.models import AuditEvent, User
from portal.timeutils import business_today
from tests.support.clients import token_client
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.scopes import acting_as, insurer_scope
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting import selectors, services
from underwriting.models import Buyer, Guarantee, GuaranteeChange

D = Decimal
Period = tuple[Decimal, Decimal, date, date | None, str]


@dataclass
class Cover:
    """alice's top-up on one buyer: 40 000 over a primary of 40 000, in force for a month."""

    buyer: Buyer
    granted: Guarantee
    since: date


@pytest.fixture
def cover(world: World) -> Cover:
    buyer = BuyerFactory.create(name="Comptoir Lyonnais")
    since = business_today() - timedelta(days=30)
    granted = GuaranteeFactory.create(
        contract=world.alice.contract,
        buyer=buyer,
        amount=D("40000"),
        primary_amount=D("40000"),
        period=DateRange(since, None, "[)"),
    )
    return Cover(buyer=buyer, granted=granted, since=since)


def periods(world: World, buyer: Buyer) -> list[Period]:
    with insurer_scope():
        return [
            (g.amount, g.primary_amount, g.period.lower, g.period.upper, g.change)
            for g in Guarantee.objects.filter(contract=world.alice.contract, buyer=buyer).order_by(
                "period"
            )
        ]


def assert_never_overlapping(rows: list[Period]) -> None:
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert earlier[3] is not None and earlier[3] <= later[2], (earlier, later)


def report_primary(world: World, buyer: Buyer, amount: str, on: date) -> Guarantee | None:
    manager = world.alice.credit_manager
    with acting_as(manager):
        return services.guarantee_primary_report(
            contract=world.alice.contract,
            buyer=buyer,
            primary_amount=D(amount),
            effective_on=on,
            actor=manager,
        )


def in_force(world: World, buyer: Buyer, on: date) -> Guarantee:
    with insurer_scope():
        current = selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer, on=on)
    assert current is not None
    return current


def audit_count() -> int:
    with insurer_scope():
        return AuditEvent.objects.count()


# --- the policyholder's dates are bounded ---------------------------------------------------


def test_a_far_future_primary_report_is_refused_and_nothing_is_written(
    world: World, cover: Cover
) -> None:
    before, audited = periods(world, cover.buyer), audit_count()
    with pytest.raises(RuleViolation) as refused:
        report_primary(world, cover.buyer, "15000", date(9999, 12, 30))
    assert refused.value.field == "effective_on"
    latest = business_today() + timedelta(days=31)
    assert refused.value.extra["latest"] == latest.isoformat()
    assert periods(world, cover.buyer) == before
    assert audit_count() == audited


def test_the_api_refuses_a_far_future_primary_report_with_a_400_naming_effective_on(
    world: World, cover: Cover
) -> None:
    client = token_client(world.alice.credit_manager)
    before, audited = periods(world, cover.buyer), audit_count()
    answer = client.post(
        "/api/v1/guarantees/report-primary/",
        {"buyer": str(cover.buyer.pk), "primary_amount": "15000", "effective_on": "9999-12-30"},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert answer.json()["field"] == "effective_on"
    assert periods(world, cover.buyer) == before
    assert audit_count() == audited


def test_a_primary_report_31_days_ahead_is_accepted_and_32_days_ahead_refused(
    world: World, cover: Cover
) -> None:
    assert settings.POLICYHOLDER_DATE_WINDOW_DAYS == 31
    today = business_today()
    client = token_client(world.alice.credit_manager)

    def post(days: int) -> Any:
        return client.post(
            "/api/v1/guarantees/report-primary/",
            {
                "buyer": str(cover.buyer.pk),
                "primary_amount": "15000",
                "effective_on": (today + timedelta(days=days)).isoformat(),
            },
            content_type="application/json",
        )

    too_far = post(32)
    assert too_far.status_code == 400
    assert too_far.json()["field"] == "effective_on"
    assert len(periods(world, cover.buyer)) == 1
    accepted = post(31)
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["valid_from"] == (today + timedelta(days=31)).isoformat()
    assert periods(world, cover.buyer) == [
        (D("40000.00"), D("40000.00"), cover.since, today + timedelta(days=31), "grant"),
        (
            D("30000.00"),
            D("15000.00"),
            today + timedelta(days=31),
            None,
            GuaranteeChange.PRIMARY_CHANGE,
        ),
    ]


# --- the insurer always has the last word over a plan ---------------------------------------


@pytest.fixture
def planned(world: World, cover: Cover) -> date:
    """The policyholder schedules a lower primary 20 days ahead: the top-up is to follow it
    (capped at 2 × 15 000 = 30 000). Returns the planned date."""
    on = business_today() + timedelta(days=20)
    report_primary(world, cover.buyer, "15000", on)
    return on


def arbiter_of(world: World) -> User:
    return world.staff["arbiter"]


def plan_replaced(on: date) -> dict[str, object]:
    """The audit row of the replaced plan: its whole content, and the date that replaced it."""
    with insurer_scope():
        event = AuditEvent.objects.get(action="guarantee.plan_replaced")
    assert event.data["replaced_from"] == on.isoformat()
    return {key: value for key, value in event.data.items() if key != "replaced_from"}


THE_PLAN = {
    "amount": "30000.00",
    "primary_amount": "15000.00",
    "upper": None,
    "change": GuaranteeChange.PRIMARY_CHANGE,
}


@pytest.mark.parametrize("days_ahead", [10, 0], ids=["from_10_days_ahead", "from_today"])
def test_the_insurer_reduces_whatever_the_policyholder_scheduled(
    world: World, cover: Cover, planned: date, days_ahead: int
) -> None:
    arbiter = arbiter_of(world)
    on = business_today() + timedelta(days=days_ahead)
    with acting_as(arbiter):
        services.guarantee_reduce(
            guarantee=in_force(world, cover.buyer, on),
            amount=D("25000"),
            effective_on=on,
            actor=arbiter,
            reason="Retards de paiement",
        )
    rows = periods(world, cover.buyer)
    assert rows == [
        (D("40000.00"), D("40000.00"), cover.since, on, GuaranteeChange.GRANT),
        (D("25000.00"), D("40000.00"), on, None, GuaranteeChange.REDUCTION),
    ]
    assert_never_overlapping(rows)
    assert plan_replaced(on) == {**THE_PLAN, "lower": planned.isoformat()}
    # What had started is unchanged: the same row, the same amounts, the same first day.
    with insurer_scope():
        granted = Guarantee.objects.get(pk=cover.granted.pk)
    assert (granted.amount, granted.primary_amount, granted.period.lower) == (
        D("40000.00"),
        D("40000.00"),
        cover.since,
    )


def test_the_insurer_cancels_whatever_the_policyholder_scheduled(
    world: World, cover: Cover, planned: date
) -> None:
    arbiter = arbiter_of(world)
    on = business_today() + timedelta(days=5)
    with acting_as(arbiter):
        services.guarantee_cancel(
            guarantee=in_force(world, cover.buyer, on),
            effective_on=on,
            actor=arbiter,
            reason="Acheteur en difficulté",
        )
    rows = periods(world, cover.buyer)
    assert rows == [(D("40000.00"), D("40000.00"), cover.since, on, GuaranteeChange.GRANT)]
    assert plan_replaced(on) == {**THE_PLAN, "lower": planned.isoformat()}
    with insurer_scope():
        assert (
            selectors.guarantee_in_force(
                contract=world.alice.contract, buyer=cover.buyer, on=planned
            )
            is None
        )


@pytest.mark.parametrize(
    "days_from_today", [-3, 0, 25], ids=["judged_3_days_ago", "today", "after_the_plan"]
)
def test_a_liquidation_ends_the_top_up_whatever_was_planned(
    world: World, cover: Cover, planned: date, days_from_today: int
) -> None:
    judgment = business_today() + timedelta(days=days_from_today)
    with insurer_scope():
        ended = services.guarantees_end_on_liquidation(
            buyer=cover.buyer, judgment_on=judgment, actor=None
        )
    assert ended == 1
    rows = periods(world, cover.buyer)
    assert_never_overlapping(rows)
    if judgment < planned:
        assert rows == [
            (D("40000.00"), D("40000.00"), cover.since, judgment, GuaranteeChange.GRANT)
        ]
        assert plan_replaced(judgment) == {
            **THE_PLAN,
            "lower": planned.isoformat(),
        }
    else:  # the plan had its days before the judgment: it is closed at the judgment
        assert rows == [
            (D("40000.00"), D("40000.00"), cover.since, planned, GuaranteeChange.GRANT),
            (D("30000.00"), D("15000.00"), planned, judgment, GuaranteeChange.PRIMARY_CHANGE),
        ]
    with insurer_scope():
        assert not selectors.guarantees_in_force(on=judgment).filter(buyer=cover.buyer).exists()
        later = selectors.guarantees_in_force(on=planned + timedelta(days=30))
        assert not later.filter(buyer=cover.buyer).exists()


def test_the_policyholder_cannot_schedule_a_change_on_or_before_a_later_insurer_change(
    world: World, cover: Cover
) -> None:
    arbiter = arbiter_of(world)
    today = business_today()
    reduced_on = today + timedelta(days=10)
    with acting_as(arbiter):
        services.guarantee_reduce(
            guarantee=in_force(world, cover.buyer, reduced_on),
            amount=D("30000"),
            effective_on=reduced_on,
            actor=arbiter,
            reason="Retards de paiement",
        )
    planned_by_the_insurer = periods(world, cover.buyer)
    earliest = reduced_on + timedelta(days=1)
    for days in (5, 10):
        with pytest.raises(Conflict) as refused:
            report_primary(world, cover.buyer, "10000", today + timedelta(days=days))
        assert refused.value.field == "effective_on"
        assert refused.value.extra["earliest"] == earliest.isoformat()
        assert earliest.strftime("%d/%m/%Y") in refused.value.message
    assert periods(world, cover.buyer) == planned_by_the_insurer

    answer = token_client(world.alice.credit_manager).post(
        "/api/v1/guarantees/report-primary/",
        {
            "buyer": str(cover.buyer.pk),
            "primary_amount": "10000",
            "effective_on": today.isoformat(),
        },
        content_type="application/json",
    )
    assert answer.status_code == 409
    assert (answer.json()["field"], answer.json()["earliest"]) == (
        "effective_on",
        earliest.isoformat(),
    )

    # From the day after the insurer's change, the policyholder's report is taken.
    followed = report_primary(world, cover.buyer, "10000", earliest)
    assert followed is not None and followed.amount == D("20000.00")
    rows = periods(world, cover.buyer)
    assert rows[:2] == [
        (D("40000.00"), D("40000.00"), cover.since, reduced_on, GuaranteeChange.GRANT),
        (D("30000.00"), D("40000.00"), reduced_on, earliest, GuaranteeChange.REDUCTION),
    ]
    assert_never_overlapping(rows)


def test_a_liquidation_also_ends_a_top_up_that_has_not_started_yet(world: World) -> None:
    """A grant from next week is a plan: the buyer's liquidation today replaces it."""
    buyer = BuyerFactory.create()
    starts = business_today() + timedelta(days=7)
    GuaranteeFactory.create(
        contract=world.alice.contract, buyer=buyer, period=DateRange(starts, None, "[)")
    )
    with insurer_scope():
        ended = services.guarantees_end_on_liquidation(
            buyer=buyer, judgment_on=business_today(), actor=None
        )
    assert ended == 1
    assert periods(world, buyer) == []
    with insurer_scope():
        assert not selectors.guarantees_in_force(on=starts).filter(buyer=buyer).exists()


def test_a_liquidation_judged_before_a_grant_ends_that_grant_today(world: World) -> None:
    """The judgment is published late: the top-up granted since then has started (history,
    kept) and ends today."""
    buyer = BuyerFactory.create()
    today = business_today()
    granted_on = today - timedelta(days=1)
    GuaranteeFactory.create(
        contract=world.alice.contract,
        buyer=buyer,
        amount=D("40000"),
        primary_amount=D("40000"),
        period=DateRange(granted_on, None, "[)"),
    )
    with insurer_scope():
        ended = services.guarantees_end_on_liquidation(
            buyer=buyer, judgment_on=today - timedelta(days=3), actor=None
        )
    assert ended == 1
    assert periods(world, buyer) == [
        (D("40000.00"), D("40000.00"), granted_on, today, GuaranteeChange.GRANT)
    ]
    with insurer_scope():
        assert not selectors.guarantees_in_force(on=today).filter(buyer=buyer).exists()


def test_a_seasonal_end_years_ahead_is_refused_naming_the_field(world: World) -> None:
    """9999-12-31 as the end of a seasonal limit was a 500 (the day after it does not exist)."""
    buyer = BuyerFactory.create(name="Saisonnier SA")
    request = submit(world.alice, buyer)
    arbiter = world.staff["senior_arbiter"]
    answer = token_client(arbiter).post(
        f"/api/v1/guarantee-requests/{request.pk}/decide/",
        {"outcome": "approved", "valid_until": "9999-12-31"},
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["field"] == "valid_until"
    with pytest.raises(RuleViolation) as refused:
        submit(
            world.alice,
            BuyerFactory.create(),
            seasonal_until=business_today() + timedelta(days=800),
        )
    assert refused.value.field == "seasonal_until"
    with insurer_scope():
        assert not Guarantee.objects.filter(buyer=buyer).exists()

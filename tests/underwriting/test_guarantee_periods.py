"""Guarantee periods (DESIGN §4): never rewritten, never overlapping, changed from a date on;
seasonal limits and liquidations end them."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateRange

from portal.errors import RuleViolation
from portal.models import AuditEvent, Notification, User
from portal.timeutils import business_today
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.scopes import acting_as
from tests.support.underwriting import submit
from tests.support.world import Tenant, World
from underwriting import selectors, services
from underwriting.models import (
    Buyer,
    Guarantee,
    GuaranteeChange,
    SeasonalExpiry,
)

D = Decimal
# (top-up, primary, from, before, change) of one period; `before` None is open-ended.
Period = tuple[Decimal, Decimal, date | None, date | None, str]


pytestmark = pytest.mark.usefixtures("acting_as_the_insurer")


def periods(tenant: Tenant, buyer: Buyer) -> list[Period]:
    return [
        (g.amount, g.primary_amount, g.period.lower, g.period.upper, g.change)
        for g in Guarantee.objects.filter(contract=tenant.contract, buyer=buyer).order_by("period")
    ]


def test_history_is_never_rewritten_and_only_a_plan_may_be_removed(world: World) -> None:
    today = business_today()
    history = GuaranteeFactory.create(
        contract=world.alice.contract, period=DateRange(today - timedelta(days=3), None)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Guarantee.objects.filter(pk=history.pk).update(amount=D("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Guarantee.objects.filter(pk=history.pk).delete()
    # A period that has not started is a plan: an insurer change may replace it.
    plan = GuaranteeFactory.create(
        contract=world.alice.contract, period=DateRange(today + timedelta(days=3), None)
    )
    Guarantee.objects.filter(pk=plan.pk).delete()
    assert not Guarantee.objects.filter(pk=plan.pk).exists()


def test_the_database_refuses_overlapping_periods(world: World) -> None:
    buyer = BuyerFactory.create()
    today = business_today()
    common = {
        "policyholder": world.alice.organisation,
        "contract": world.alice.contract,
        "buyer": buyer,
        "primary_amount": D("1"),
        "change": "grant",
    }
    Guarantee.objects.create(amount=D("10"), period=DateRange(today, None), **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Guarantee.objects.create(
            amount=D("20"), period=DateRange(today + timedelta(days=3), None), **common
        )


def test_a_reduction_starts_a_new_period_and_is_never_retroactive(
    world: World, arbiter: User
) -> None:
    buyer = BuyerFactory.create()
    today = business_today()
    request = submit(world.alice, buyer)
    services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    current = selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer)
    assert current is not None
    with pytest.raises(RuleViolation) as retro:
        services.guarantee_reduce(
            guarantee=current,
            amount=D("10000"),
            effective_on=today - timedelta(days=1),
            actor=arbiter,
            reason="x",
        )
    assert retro.value.field == "effective_on"
    # The insurer may change the cover from the very day it was granted: a change from D
    # applies on D itself, so the grant of today is replaced (and kept in the audit trail).
    services.guarantee_reduce(
        guarantee=current, amount=D("30000"), effective_on=today, actor=arbiter, reason="x"
    )
    assert periods(world.alice, buyer) == [
        (D("30000.00"), D("40000.00"), today, None, GuaranteeChange.REDUCTION)
    ]
    assert AuditEvent.objects.filter(action="guarantee.plan_replaced").count() == 1
    current = selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer)
    assert current is not None
    reduce_on = today + timedelta(days=10)
    services.guarantee_reduce(
        guarantee=current,
        amount=D("10000"),
        effective_on=reduce_on,
        actor=arbiter,
        reason="Retards de paiement",
    )
    assert periods(world.alice, buyer) == [
        (D("30000.00"), D("40000.00"), today, reduce_on, GuaranteeChange.REDUCTION),
        (D("10000.00"), D("40000.00"), reduce_on, None, GuaranteeChange.REDUCTION),
    ]
    # Deliveries before the change stay covered at the old limit.
    before = selectors.guarantee_in_force(
        contract=world.alice.contract, buyer=buyer, on=reduce_on - timedelta(days=1)
    )
    assert before is not None and before.amount == D("30000.00")
    later = selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer, on=reduce_on)
    assert later is not None
    services.guarantee_cancel(
        guarantee=later, effective_on=reduce_on + timedelta(days=5), actor=arbiter, reason="Fin"
    )
    assert periods(world.alice, buyer)[-1][3] == reduce_on + timedelta(days=5)


def test_the_top_up_follows_a_lower_primary_and_ends_when_it_reaches_zero(
    world: World, arbiter: User
) -> None:
    buyer = BuyerFactory.create()
    today = business_today()
    request = submit(world.alice, buyer)
    services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    lower_on = today + timedelta(days=7)
    with acting_as(world.alice.credit_manager):
        services.guarantee_primary_report(
            contract=world.alice.contract,
            buyer=buyer,
            primary_amount=D("15000"),
            effective_on=lower_on,
            actor=world.alice.credit_manager,
        )
    assert periods(world.alice, buyer)[-1] == (
        D("30000.00"),
        D("15000.00"),
        lower_on,
        None,
        GuaranteeChange.PRIMARY_CHANGE,
    )
    zero_on = today + timedelta(days=14)
    with acting_as(world.alice.credit_manager):
        lowered_to_zero = services.guarantee_primary_report(
            contract=world.alice.contract,
            buyer=buyer,
            primary_amount=D("0"),
            effective_on=zero_on,
            actor=world.alice.credit_manager,
        )
    assert lowered_to_zero is None
    assert len(periods(world.alice, buyer)) == 2
    assert periods(world.alice, buyer)[-1][3] == zero_on
    assert (
        selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer, on=zero_on) is None
    )


def test_a_seasonal_limit_ends_by_itself_and_the_policyholder_is_told(
    world: World, arbiter: User
) -> None:
    from underwriting.tasks import expire_seasonal_limits

    buyer = BuyerFactory.create()
    today = business_today()
    request = submit(world.alice, buyer, reason="seasonal", seasonal_until=today)
    services.guarantee_request_decide(
        request_id=request.pk, outcome="approved", actor=arbiter, valid_until=today
    )
    guarantee = Guarantee.objects.get(buyer=buyer)
    assert guarantee.period.upper == today + timedelta(days=1)  # "until D" covers D itself
    assert expire_seasonal_limits() == 0  # still in force today
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert expire_seasonal_limits(on=tomorrow) == 1
    assert expire_seasonal_limits(on=tomorrow) == 0  # recorded once
    assert SeasonalExpiry.objects.get().guarantee == guarantee
    assert Notification.objects.filter(
        recipient=world.alice.credit_manager, subject__contains="saisonnière"
    ).exists()


def test_liquidation_ends_the_top_ups_from_the_judgment_date(world: World, arbiter: User) -> None:
    buyer = BuyerFactory.create()
    for tenant in (world.alice, world.bob):
        request = submit(tenant, buyer)
        services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    judgment = business_today() + timedelta(days=2)
    assert (
        services.guarantees_end_on_liquidation(buyer=buyer, judgment_on=judgment, actor=None) == 2
    )
    assert not selectors.guarantees_in_force(on=judgment).filter(buyer=buyer).exists()

"""Decisions, countersignature, instant approval and guarantee periods (DESIGN §4)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django_scopes import scopes_disabled

from portal.errors import Conflict, DomainError, RuleViolation
from portal.models import Notification
from portal.timeutils import business_today
from tests.support.factories import BuyerFactory
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting import selectors, services
from underwriting.models import (
    Decision,
    Guarantee,
    GuaranteeChange,
    GuaranteeRequest,
    PendingDecision,
    RequestStatus,
    SeasonalExpiry,
)

D = Decimal


@pytest.fixture(autouse=True)
def _no_scope() -> Iterator[None]:
    with scopes_disabled():
        yield


@pytest.fixture
def arbiter(world: World):  # type: ignore[no-untyped-def]
    user = world.staff["arbiter"]
    user.authority_amount = D("50000")
    user.save(update_fields=["authority_amount"])
    return user


def periods(tenant, buyer) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [
        (g.amount, g.primary_amount, g.period.lower, g.period.upper, g.change)
        for g in Guarantee.objects.filter(contract=tenant.contract, buyer=buyer).order_by("period")
    ]


def test_granting_40_000_on_the_seed_example_covers_80_percent(world: World, arbiter) -> None:  # type: ignore[no-untyped-def]
    buyer = BuyerFactory()
    request = submit(world.alice, buyer)
    result = services.guarantee_request_decide(
        request_id=request.pk, outcome="approved", actor=arbiter
    )
    assert result.decision is not None and result.decision.amount == D("40000.00")
    coverage = selectors.coverage_check(
        contract=world.alice.contract, buyer=buyer, order_amount=D("75000")
    )
    assert (coverage.primary, coverage.top_up, coverage.total) == (
        D("40000.00"),
        D("40000.00"),
        D("80000.00"),
    )
    assert coverage.cover_ratio == D("80.0")
    assert coverage.fits and coverage.headroom == D("5000.00")
    too_big = selectors.coverage_check(
        contract=world.alice.contract, buyer=buyer, order_amount=D("60000"), outstanding=D("30000")
    )
    assert not too_big.fits and too_big.headroom == D("-10000.00")


def test_a_decision_above_the_arbiters_authority_waits_for_a_senior_countersignature(
    world: World, arbiter
) -> None:  # type: ignore[no-untyped-def]
    buyer = BuyerFactory()
    request = submit(world.alice, buyer, top_up="60000")
    result = services.guarantee_request_decide(
        request_id=request.pk, outcome="approved", actor=arbiter
    )
    assert result.decision is None and result.pending is not None
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_COUNTERSIGNATURE
    assert not Guarantee.objects.filter(buyer=buyer).exists()
    senior = world.staff["senior_arbiter"]
    assert Notification.objects.filter(recipient=senior).exists()
    signed = services.pending_decision_countersign(
        request_id=request.pk, actor=senior, approve=True
    )
    assert signed.decision is not None
    assert signed.decision.decided_by == arbiter
    assert signed.decision.countersigned_by == senior
    assert selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer).amount == D(
        "60000.00"
    )


def test_an_arbiter_cannot_countersign_and_a_declined_proposal_goes_back_to_the_queue(
    world: World, arbiter
) -> None:  # type: ignore[no-untyped-def]
    request = submit(world.alice, BuyerFactory(), top_up="60000")
    services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    with pytest.raises(RuleViolation):
        services.pending_decision_countersign(request_id=request.pk, actor=arbiter, approve=True)
    senior = world.staff["senior_arbiter"]
    with pytest.raises(RuleViolation) as no_reason:
        services.pending_decision_countersign(request_id=request.pk, actor=senior, approve=False)
    assert no_reason.value.field == "note"
    services.pending_decision_countersign(
        request_id=request.pk, actor=senior, approve=False, note="Bilan trop ancien"
    )
    request.refresh_from_db()
    assert request.status == RequestStatus.OPEN
    assert PendingDecision.objects.get(request=request).state == "declined"
    assert not Decision.objects.filter(request=request).exists()


def test_a_refusal_never_needs_a_countersignature_but_needs_a_reason(world: World, arbiter) -> None:  # type: ignore[no-untyped-def]
    request = submit(world.alice, BuyerFactory(), top_up="60000")
    with pytest.raises(RuleViolation) as refused:
        services.guarantee_request_decide(request_id=request.pk, outcome="refused", actor=arbiter)
    assert refused.value.field == "rationale"
    result = services.guarantee_request_decide(
        request_id=request.pk, outcome="refused", actor=arbiter, rationale="Grade en baisse"
    )
    assert result.decision is not None and result.decision.amount == 0


def test_a_partial_approval_must_be_below_the_request_and_within_the_rules(
    world: World, arbiter
) -> None:  # type: ignore[no-untyped-def]
    request = submit(world.alice, BuyerFactory())
    with pytest.raises(RuleViolation) as above:
        services.guarantee_request_decide(
            request_id=request.pk,
            outcome="partly_approved",
            amount=D("45000"),
            actor=arbiter,
            rationale="x",
        )
    assert above.value.field == "amount"
    result = services.guarantee_request_decide(
        request_id=request.pk,
        outcome="partly_approved",
        amount=D("25000"),
        actor=arbiter,
        rationale="Prudence",
    )
    assert result.decision is not None and result.decision.outcome == "partly_approved"


def test_instant_approval_within_the_discretionary_limit(world: World) -> None:
    contract = world.alice.contract
    contract.discretionary_limit = D("20000")
    contract.instant_min_grade = 6
    contract.save(update_fields=["discretionary_limit", "instant_min_grade"])
    request = submit(world.alice, BuyerFactory(grade=7), top_up="20000")
    assert request.status == RequestStatus.APPROVED
    decision = Decision.objects.get(request=request)
    assert decision.instant and decision.decided_by is None
    # Above the limit, or on a weaker buyer, the arbiter decides.
    assert submit(world.alice, BuyerFactory(grade=7), top_up="20000.01").status == "open"
    assert submit(world.alice, BuyerFactory(grade=5), top_up="10000").status == "open"
    assert (
        submit(world.alice, BuyerFactory(grade=9, proceedings="safeguard"), top_up="10000").status
        == "open"
    )


def test_decisions_cannot_be_edited_or_deleted(world: World, arbiter) -> None:  # type: ignore[no-untyped-def]
    request = submit(world.alice, BuyerFactory())
    decision = services.guarantee_request_decide(
        request_id=request.pk, outcome="approved", actor=arbiter
    ).decision
    assert decision is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.filter(pk=decision.pk).update(amount=D("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.filter(pk=decision.pk).delete()
    with pytest.raises(Conflict):
        services.guarantee_request_decide(
            request_id=request.pk, outcome="refused", actor=arbiter, rationale="x"
        )


def test_a_guarantee_period_amount_is_never_rewritten(world: World, arbiter) -> None:  # type: ignore[no-untyped-def]
    request = submit(world.alice, BuyerFactory())
    services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    guarantee = Guarantee.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Guarantee.objects.filter(pk=guarantee.pk).update(amount=D("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Guarantee.objects.filter(pk=guarantee.pk).delete()


def test_the_database_refuses_overlapping_periods(world: World) -> None:
    buyer = BuyerFactory()
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


def test_a_reduction_starts_a_new_period_and_is_never_retroactive(world: World, arbiter) -> None:  # type: ignore[no-untyped-def]
    buyer = BuyerFactory()
    today = business_today()
    request = submit(world.alice, buyer)
    services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    current = selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer)
    with pytest.raises(RuleViolation) as retro:
        services.guarantee_reduce(
            guarantee=current,
            amount=D("10000"),
            effective_on=today - timedelta(days=1),
            actor=arbiter,
            reason="x",
        )
    assert retro.value.field == "effective_on"
    # A second change the same day as the grant would rewrite that day: refused with a date.
    with pytest.raises(Conflict) as same_day:
        services.guarantee_reduce(
            guarantee=current, amount=D("10000"), effective_on=today, actor=arbiter, reason="x"
        )
    assert same_day.value.extra["earliest"] == (today + timedelta(days=1)).isoformat()
    reduce_on = today + timedelta(days=10)
    services.guarantee_reduce(
        guarantee=current,
        amount=D("10000"),
        effective_on=reduce_on,
        actor=arbiter,
        reason="Retards de paiement",
    )
    assert periods(world.alice, buyer) == [
        (D("40000.00"), D("40000.00"), today, reduce_on, GuaranteeChange.GRANT),
        (D("10000.00"), D("40000.00"), reduce_on, None, GuaranteeChange.REDUCTION),
    ]
    # Deliveries before the change stay covered at the old limit.
    before = selectors.guarantee_in_force(
        contract=world.alice.contract, buyer=buyer, on=reduce_on - timedelta(days=1)
    )
    assert before.amount == D("40000.00")
    later = selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer, on=reduce_on)
    services.guarantee_cancel(
        guarantee=later, effective_on=reduce_on + timedelta(days=5), actor=arbiter, reason="Fin"
    )
    assert periods(world.alice, buyer)[-1][3] == reduce_on + timedelta(days=5)


def test_the_top_up_follows_a_lower_primary_and_ends_when_it_reaches_zero(
    world: World, arbiter
) -> None:  # type: ignore[no-untyped-def]
    buyer = BuyerFactory()
    today = business_today()
    request = submit(world.alice, buyer)
    services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    lower_on = today + timedelta(days=7)
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
    assert (
        services.guarantee_primary_report(
            contract=world.alice.contract,
            buyer=buyer,
            primary_amount=D("0"),
            effective_on=zero_on,
            actor=world.alice.credit_manager,
        )
        is None
    )
    assert len(periods(world.alice, buyer)) == 2
    assert periods(world.alice, buyer)[-1][3] == zero_on
    assert (
        selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer, on=zero_on) is None
    )


def test_a_seasonal_limit_ends_by_itself_and_the_policyholder_is_told(
    world: World, arbiter
) -> None:  # type: ignore[no-untyped-def]
    from underwriting.tasks import expire_seasonal_limits

    buyer = BuyerFactory()
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


def test_liquidation_ends_the_top_ups_from_the_judgment_date(world: World, arbiter) -> None:  # type: ignore[no-untyped-def]
    buyer = BuyerFactory()
    for tenant in (world.alice, world.bob):
        request = submit(tenant, buyer)
        services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    judgment = business_today() + timedelta(days=2)
    assert (
        services.guarantees_end_on_liquidation(buyer=buyer, judgment_on=judgment, actor=None) == 2
    )
    assert not selectors.guarantees_in_force(on=judgment).filter(buyer=buyer).exists()


@pytest.mark.django_db(transaction=True)
def test_two_arbiters_deciding_at_the_same_moment_produce_exactly_one_decision(
    world: World, arbiter
) -> None:  # type: ignore[no-untyped-def]
    senior = world.staff["senior_arbiter"]
    request = submit(world.alice, BuyerFactory())
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(user, outcome: str) -> None:  # type: ignore[no-untyped-def]
        try:
            with scopes_disabled():
                barrier.wait(timeout=5)
                services.guarantee_request_decide(
                    request_id=request.pk, outcome=outcome, actor=user, rationale="r"
                )
            outcomes.append("decided")
        except DomainError as error:
            outcomes.append(type(error).__name__)
        finally:
            connection.close()  # each thread had its own database connection

    threads = [
        threading.Thread(target=decide, args=(arbiter, "approved")),
        threading.Thread(target=decide, args=(senior, "refused")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["Conflict", "decided"]
    assert Decision.objects.filter(request=request).count() == 1
    assert GuaranteeRequest.objects.get(pk=request.pk).status in {"approved", "refused"}


@pytest.mark.django_db(transaction=True)
def test_decision_emails_are_sent_after_commit(world: World, arbiter, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from unlockplus.celery import app

    app.conf.task_always_eager = True
    try:
        request = submit(world.alice, BuyerFactory())
        mail.outbox.clear()
        services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    finally:
        app.conf.task_always_eager = False
    recipients = {address for message in mail.outbox for address in message.to}
    assert world.alice.credit_manager.email in recipients
    assert any("accordé" in message.subject for message in mail.outbox)
    assert world.bob.credit_manager.email not in recipients

"""Deciding a request (DESIGN §4): approval, partial approval, refusal, instant approval; decisions
are immutable, decided once, and e-mailed after commit."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from pytest_django import Settings

from portal.errors import Conflict, DomainError, RuleViolation
from portal.models import User
from tests.support.factories import BuyerFactory
from tests.support.scopes import acting_as
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting import selectors, services
from underwriting.models import (
    Decision,
    GuaranteeRequest,
    RequestStatus,
)

D = Decimal


pytestmark = pytest.mark.usefixtures("acting_as_the_insurer")


def test_granting_40_000_on_the_seed_example_covers_80_percent(world: World, arbiter: User) -> None:
    buyer = BuyerFactory.create()
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


def test_a_refusal_never_needs_a_countersignature_but_needs_a_reason(
    world: World, arbiter: User
) -> None:
    request = submit(world.alice, BuyerFactory.create(), top_up="60000")
    with pytest.raises(RuleViolation) as refused:
        services.guarantee_request_decide(request_id=request.pk, outcome="refused", actor=arbiter)
    assert refused.value.field == "rationale"
    result = services.guarantee_request_decide(
        request_id=request.pk, outcome="refused", actor=arbiter, rationale="Grade en baisse"
    )
    assert result.decision is not None and result.decision.amount == 0


def test_a_partial_approval_must_be_below_the_request_and_within_the_rules(
    world: World, arbiter: User
) -> None:
    request = submit(world.alice, BuyerFactory.create())
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
    request = submit(world.alice, BuyerFactory.create(grade=7), top_up="20000")
    assert request.status == RequestStatus.APPROVED
    decision = Decision.objects.get(request=request)
    assert decision.instant and decision.decided_by is None
    # Above the limit, or on a weaker buyer, the arbiter decides.
    assert submit(world.alice, BuyerFactory.create(grade=7), top_up="20000.01").status == "open"
    assert submit(world.alice, BuyerFactory.create(grade=5), top_up="10000").status == "open"
    assert (
        submit(
            world.alice, BuyerFactory.create(grade=9, proceedings="safeguard"), top_up="10000"
        ).status
        == "open"
    )


def test_decisions_cannot_be_edited_or_deleted(world: World, arbiter: User) -> None:
    request = submit(world.alice, BuyerFactory.create())
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


@pytest.mark.django_db(transaction=True)
def test_two_arbiters_deciding_at_the_same_moment_produce_exactly_one_decision(
    world: World, arbiter: User
) -> None:
    senior = world.staff["senior_arbiter"]
    request = submit(world.alice, BuyerFactory.create())
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(user: User, outcome: str) -> None:
        try:
            with acting_as(user):
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
def test_decision_emails_are_sent_after_commit(
    world: World, arbiter: User, settings: Settings
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from unlockplus.celery import app

    app.conf.task_always_eager = True
    try:
        request = submit(world.alice, BuyerFactory.create())
        mail.outbox.clear()
        services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    finally:
        app.conf.task_always_eager = False
    recipients = {address for message in mail.outbox for address in message.to}
    assert world.alice.credit_manager.email in recipients
    assert any("accordé" in message.subject for message in mail.outbox)
    assert world.bob.credit_manager.email not in recipients

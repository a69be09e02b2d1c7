"""A decision above the arbiter's authority waits for a senior arbiter's countersignature."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.errors import Forbidden, RuleViolation
from portal.models import Notification, User
from tests.support.factories import BuyerFactory
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting import selectors, services
from underwriting.models import (
    Decision,
    Guarantee,
    PendingDecision,
    RequestStatus,
)

D = Decimal


pytestmark = pytest.mark.usefixtures("acting_as_the_insurer")


def test_a_decision_above_the_arbiters_authority_waits_for_a_senior_countersignature(
    world: World, arbiter: User
) -> None:
    buyer = BuyerFactory.create()
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
    in_force = selectors.guarantee_in_force(contract=world.alice.contract, buyer=buyer)
    assert in_force is not None and in_force.amount == D("60000.00")


def test_an_arbiter_cannot_countersign_and_a_declined_proposal_goes_back_to_the_queue(
    world: World, arbiter: User
) -> None:
    request = submit(world.alice, BuyerFactory.create(), top_up="60000")
    services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    with pytest.raises(Forbidden):
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

"""Submitting a request enforces the top-up rules, one open request per buyer, and assigns it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from portal.errors import Conflict, RuleViolation
from tests.support.factories import BuyerFactory
from tests.support.scopes import acting_as, scope_of
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import (
    ContractStatus,
    GuaranteeRequest,
    ProceedingsStatus,
    RequestStatus,
)

D = Decimal


def test_a_primary_given_as_a_percentage_of_exposure_is_the_same_request(world: World) -> None:
    request = submit(world.alice, BuyerFactory.create(), primary=None, primary_percent="40")
    assert request.primary_amount == D("40000.00")


def test_submitting_enforces_the_same_rules_as_the_form(world: World) -> None:
    buyer = BuyerFactory.create()
    with pytest.raises(RuleViolation) as refused:
        submit(world.alice, buyer, top_up="70000")
    assert refused.value.extra == {"rule": "exposure", "max_top_up": "60000.00"}
    with scope_of(world.alice):
        assert not GuaranteeRequest.objects.exists()


def test_the_most_i_can_get_asks_for_the_largest_top_up_the_rules_allow(world: World) -> None:
    request = submit(world.alice, BuyerFactory.create(), top_up=None, wants_maximum=True)
    assert request.requested_top_up == D("60000.00")
    assert request.wants_maximum


def test_the_aggregate_cap_is_enforced_against_guarantees_in_force(world: World) -> None:
    contract = world.alice.contract
    contract.aggregate_cap = D("50000")
    with scopes_disabled():  # arrangement
        contract.save(update_fields=["aggregate_cap"])
    first = submit(world.alice, BuyerFactory.create())
    from underwriting import services

    arbiter = world.staff["senior_arbiter"]
    with acting_as(arbiter):
        services.guarantee_request_decide(request_id=first.pk, outcome="approved", actor=arbiter)
    with pytest.raises(RuleViolation) as refused:
        submit(world.alice, BuyerFactory.create(), top_up="20000")
    assert refused.value.extra == {"rule": "aggregate_cap", "max_top_up": "10000.00"}


def test_a_suspended_contract_takes_no_request(world: World) -> None:
    contract = world.alice.contract
    contract.status = ContractStatus.SUSPENDED
    with scopes_disabled():  # arrangement
        contract.save(update_fields=["status"])
    with pytest.raises(RuleViolation) as refused:
        submit(world.alice, BuyerFactory.create())
    assert refused.value.field == "contract"


def test_a_buyer_in_liquidation_gets_no_top_up(world: World) -> None:
    with pytest.raises(RuleViolation) as refused:
        submit(world.alice, BuyerFactory.create(proceedings=ProceedingsStatus.LIQUIDATION))
    assert refused.value.field == "buyer"


def test_a_second_open_request_on_the_same_buyer_is_refused(world: World) -> None:
    buyer = BuyerFactory.create()
    first = submit(world.alice, buyer)
    with pytest.raises(Conflict) as refused:
        submit(world.alice, buyer, top_up="10000")
    assert refused.value.field == "buyer"
    assert refused.value.extra["request_id"] == str(first.pk)
    # Bob may ask on the same reseller: the registry is global, requests are not.
    assert submit(world.bob, buyer).status == RequestStatus.OPEN


def test_a_request_is_due_within_the_service_level_and_goes_to_the_dedicated_arbiter(
    world: World,
) -> None:
    request = submit(world.alice, BuyerFactory.create())
    assert request.assigned_to == world.staff["arbiter"]
    assert (request.due_at - request.submitted_at).total_seconds() == 48 * 3600

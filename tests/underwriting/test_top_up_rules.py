"""DESIGN §4 "Top-up request": each rule, with the seed example E 100 000, P 40 000."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from portal.errors import Conflict, RuleViolation
from tests.support.factories import BuyerFactory
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import (
    ContractStatus,
    GuaranteeRequest,
    ProceedingsStatus,
    RequestStatus,
)
from underwriting.rules import top_up_limits

D = Decimal


@pytest.fixture(autouse=True)
def _no_scope() -> Iterator[None]:
    with scopes_disabled():
        yield


def seed(**kwargs: object):  # type: ignore[no-untyped-def]
    return top_up_limits(exposure=D("100000"), primary=D("40000"), multiple=D("2"), **kwargs)


def test_the_seed_example_allows_at_most_60_000_because_of_the_exposure() -> None:
    limits = seed()
    assert limits.max_top_up == D("60000.00")
    assert limits.binding is not None and limits.binding.code == "exposure"
    caps = {rule.code: rule.cap for rule in limits.caps}
    assert caps == {"triple": D("80000.00"), "exposure": D("60000.00")}


def test_it_refuses_a_top_up_above_twice_the_primary_and_names_the_largest_that_passes() -> None:
    with pytest.raises(RuleViolation) as refused:
        seed().enforce(D("80000.01"))
    assert refused.value.extra["rule"] == "triple"
    assert refused.value.extra["max_top_up"] == "60000.00"
    assert "2 fois la limite primaire" in refused.value.message
    assert "60" in refused.value.message and "000,00 €" in refused.value.message


def test_it_refuses_cover_above_the_exposure() -> None:
    with pytest.raises(RuleViolation) as refused:
        seed().enforce(D("60000.01"))
    assert refused.value.extra["rule"] == "exposure"
    assert refused.value.field == "requested_top_up"
    seed().enforce(D("60000"))  # exactly P + T = E passes


def test_the_triple_rule_binds_when_the_exposure_is_large() -> None:
    limits = top_up_limits(exposure=D("500000"), primary=D("40000"), multiple=D("2"))
    assert limits.max_top_up == D("80000.00")
    assert limits.binding is not None and limits.binding.code == "triple"


def test_it_refuses_a_top_up_without_a_primary_limit() -> None:
    limits = top_up_limits(exposure=D("100000"), primary=D("0"), multiple=D("2"))
    assert limits.max_top_up == 0
    with pytest.raises(RuleViolation) as refused:
        limits.enforce(D("1"))
    assert refused.value.field == "primary_amount"
    assert refused.value.extra["rule"] == "primary_required"


def test_it_refuses_a_credit_term_beyond_the_contract_maximum() -> None:
    with pytest.raises(RuleViolation) as refused:
        seed(credit_term_days=120, max_credit_term_days=90).enforce(D("1000"))
    assert refused.value.field == "credit_term_days"
    assert "120 jours" in refused.value.message


def test_it_refuses_when_the_contract_is_not_active_or_the_buyer_is_in_liquidation() -> None:
    with pytest.raises(RuleViolation) as inactive:
        seed(contract_active=False, contract_number="UP-1").enforce(D("1000"))
    assert inactive.value.extra["rule"] == "contract_active"
    with pytest.raises(RuleViolation) as liquidation:
        seed(buyer_in_liquidation=True).enforce(D("1000"))
    assert liquidation.value.extra["rule"] == "buyer_liquidation"


def test_the_aggregate_cap_counts_the_top_ups_in_force_on_other_buyers() -> None:
    limits = seed(aggregate_cap=D("100000"), aggregate_in_force_elsewhere=D("75000"))
    assert limits.max_top_up == D("25000.00")
    assert limits.binding is not None and limits.binding.code == "aggregate_cap"


def test_a_primary_given_as_a_percentage_of_exposure_is_the_same_request(world: World) -> None:
    request = submit(world.alice, BuyerFactory(), primary=None, primary_percent="40")
    assert request.primary_amount == D("40000.00")


def test_submitting_enforces_the_same_rules_as_the_form(world: World) -> None:
    buyer = BuyerFactory()
    with pytest.raises(RuleViolation) as refused:
        submit(world.alice, buyer, top_up="70000")
    assert refused.value.extra == {"rule": "exposure", "max_top_up": "60000.00"}
    assert not GuaranteeRequest.objects.exists()


def test_the_most_i_can_get_asks_for_the_largest_top_up_the_rules_allow(world: World) -> None:
    request = submit(world.alice, BuyerFactory(), top_up=None, wants_maximum=True)
    assert request.requested_top_up == D("60000.00")
    assert request.wants_maximum


def test_the_aggregate_cap_is_enforced_against_guarantees_in_force(world: World) -> None:
    contract = world.alice.contract
    contract.aggregate_cap = D("50000")
    contract.save(update_fields=["aggregate_cap"])
    first = submit(world.alice, BuyerFactory())
    from underwriting import services

    arbiter = world.staff["senior_arbiter"]
    services.guarantee_request_decide(request_id=first.pk, outcome="approved", actor=arbiter)
    with pytest.raises(RuleViolation) as refused:
        submit(world.alice, BuyerFactory(), top_up="20000")
    assert refused.value.extra == {"rule": "aggregate_cap", "max_top_up": "10000.00"}


def test_a_suspended_contract_takes_no_request(world: World) -> None:
    contract = world.alice.contract
    contract.status = ContractStatus.SUSPENDED
    contract.save(update_fields=["status"])
    with pytest.raises(RuleViolation) as refused:
        submit(world.alice, BuyerFactory())
    assert refused.value.field == "contract"


def test_a_buyer_in_liquidation_gets_no_top_up(world: World) -> None:
    with pytest.raises(RuleViolation) as refused:
        submit(world.alice, BuyerFactory(proceedings=ProceedingsStatus.LIQUIDATION))
    assert refused.value.field == "buyer"


def test_a_second_open_request_on_the_same_buyer_is_refused(world: World) -> None:
    buyer = BuyerFactory()
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
    request = submit(world.alice, BuyerFactory())
    assert request.assigned_to == world.staff["arbiter"]
    assert (request.due_at - request.submitted_at).total_seconds() == 48 * 3600

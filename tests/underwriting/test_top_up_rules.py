"""DESIGN §4 "Top-up request": each rule, with the seed example E 100 000, P 40 000."""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict, Unpack

import pytest

from portal.errors import RuleViolation
from underwriting.rules import TopUpLimits, top_up_limits

D = Decimal


class Terms(TypedDict, total=False):
    """The keyword arguments of `top_up_limits` besides the seed's E, P and multiple."""

    credit_term_days: int | None
    max_credit_term_days: int | None
    contract_active: bool
    contract_number: str
    buyer_in_liquidation: bool
    aggregate_cap: Decimal | None
    aggregate_in_force_elsewhere: Decimal


def seed(**terms: Unpack[Terms]) -> TopUpLimits:
    return top_up_limits(exposure=D("100000"), primary=D("40000"), multiple=D("2"), **terms)


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

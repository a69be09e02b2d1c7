"""The factories, typed for mypy: factory_boy's calls are typed as returning the factory."""

from __future__ import annotations

from typing import Any, cast

from tests.support.factories import BuyerFactory, ContractFactory, GuaranteeFactory
from underwriting.models import Buyer, Contract, Guarantee


def make_buyer(**fields: Any) -> Buyer:
    return cast(Buyer, BuyerFactory(**fields))


def make_contract(**fields: Any) -> Contract:
    return cast(Contract, ContractFactory(**fields))


def make_guarantee(**fields: Any) -> Guarantee:
    return cast(Guarantee, GuaranteeFactory(**fields))

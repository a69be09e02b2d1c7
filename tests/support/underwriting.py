"""Helpers for the underwriting tests: a request submitted through the one service."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from portal.models import User
from tests.support.factories import BuyerFactory
from tests.support.scopes import acting_as
from tests.support.world import Tenant, World
from underwriting import services
from underwriting.models import Buyer, Guarantee, GuaranteeRequest


def submit(
    tenant: Tenant,
    buyer: Buyer,
    *,
    exposure: str = "100000",
    primary: str | None = "40000",
    top_up: str | None = "40000",
    by: User | None = None,
    **kwargs: Any,
) -> GuaranteeRequest:
    percent = kwargs.pop("primary_percent", None)
    data = services.RequestInput(
        exposure=Decimal(exposure),
        primary_amount=Decimal(primary) if primary is not None else None,
        primary_percent=Decimal(percent) if percent is not None else None,
        requested_top_up=Decimal(top_up) if top_up is not None else None,
        wants_maximum=kwargs.pop("wants_maximum", False),
        credit_term_days=kwargs.pop("credit_term_days", 60),
    )
    submitted_by = by or tenant.credit_manager
    with acting_as(submitted_by):
        request, _ = services.guarantee_request_submit(
            contract=tenant.contract,
            buyer=buyer,
            data=data,
            reason=kwargs.pop("reason", "new_order"),
            submitted_by=submitted_by,
            **kwargs,
        )
    return request


@dataclass
class TenantObjects:
    request: GuaranteeRequest
    guarantee: Guarantee
    buyer: Buyer


# Keyed by the tenant's organisation (a fresh uuid per test), never by `id(world)`: a world's
# id is reused once it is garbage-collected, and a stale entry would name rolled-back rows.
_OBJECTS: dict[object, TenantObjects] = {}


def objects_for(world: World, tenant: Tenant) -> TenantObjects:
    """An open request and a guarantee in force for `tenant`, built once per world."""
    key = tenant.organisation.pk
    if key not in _OBJECTS:
        buyer = BuyerFactory.create()
        granted = submit(tenant, buyer)
        senior = world.staff["senior_arbiter"]
        with acting_as(senior):
            services.guarantee_request_decide(
                request_id=granted.pk, outcome="approved", actor=senior
            )
            guarantee = Guarantee.objects.get(contract=tenant.contract, buyer=buyer)
        request = submit(tenant, BuyerFactory.create(), top_up="30000")
        _OBJECTS[key] = TenantObjects(request=request, guarantee=guarantee, buyer=buyer)
    return _OBJECTS[key]

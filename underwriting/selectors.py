"""Reads for underwriting: buyers, guarantees in force, coverage, the arbiter queue.

Tenant-owned rows are read through their fail-closed scoped managers, so every function here
answers within the active scope only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Q, QuerySet, Sum
from django_scopes import ScopeError
from django_scopes.state import get_scope
from knox.models import AuthToken

from portal import rls, sql
from portal.authentication import token_from_row, token_statement, token_width
from portal.errors import RuleViolation
from portal.models import OrganisationKind, User
from portal.timeutils import business_today
from underwriting.identifiers import parse_company_id
from underwriting.models import (
    OPEN_STATUSES,
    Buyer,
    Contract,
    ContractStatus,
    CountersignatureState,
    Guarantee,
    GuaranteeRequest,
    PendingDecision,
    ProceedingsStatus,
)
from underwriting.rules import ZERO, TopUpLimits, money, top_up_limits


def buyer_search(*, query: str, limit: int = 20) -> list[Buyer]:
    """Buyers whose identifier is `query` (any form), or whose name contains it."""
    query = (query or "").strip()
    if not query:
        return []
    try:
        company = parse_company_id(query, field="q")
    except RuleViolation:
        return list(Buyer.objects.filter(name__icontains=query).order_by("name")[:limit])
    return list(buyer_by_company_id(siren=company.siren, vat_number=company.vat_number))


def buyer_by_company_id(*, siren: str | None, vat_number: str | None) -> QuerySet[Buyer]:
    if siren:
        return Buyer.objects.filter(siren=siren)
    return Buyer.objects.filter(vat_number=vat_number)


def active_contract_for(*, policyholder_id: UUID | None) -> Contract | None:
    return (
        Contract.objects.filter(policyholder_id=policyholder_id, status=ContractStatus.ACTIVE)
        .select_related("policyholder")
        .first()
    )


def in_force_on(day: date, prefix: str = "") -> Q:
    """Periods in force on `day` (`period @> day`), by the period's bounds as plain dates: date
    comparisons are leakproof, so under row-level security PostgreSQL still reads the
    `guarantee_in_force` index instead of checking the tenant policy on the whole book first.
    `prefix` reaches the periods through a relation (e.g. "guarantees__")."""
    return Q(**{f"{prefix}period_start__lte": day}) & (
        Q(**{f"{prefix}period_end__gt": day}) | Q(**{f"{prefix}period_end__isnull": True})
    )


def guarantees_in_force(*, on: date | None = None) -> QuerySet[Guarantee]:
    return Guarantee.objects.filter(in_force_on(on or business_today()))


def guarantee_in_force(
    *, contract: Contract, buyer: Buyer, on: date | None = None
) -> Guarantee | None:
    return guarantees_in_force(on=on).filter(contract=contract, buyer=buyer).first()


@dataclass(frozen=True)
class CoverInForce:
    """What the order-time check reads: the contract it answers for, whether the buyer exists,
    and the period in force on that contract for the buyer (None: nothing in force)."""

    contract_id: UUID | None
    buyer_exists: bool
    primary: Decimal
    top_up: Decimal
    exposure: Decimal | None
    valid_until: date | None
    in_force: bool


# The named contract, or else the policyholder's active contract, preferring one on which a
# period is in force for the buyer (as the guarantee lookup did before the contract lookup),
# then by number; within the active scope (also in SQL: a role exempt from row-level security
# must not see more), and under the row-level-security policy of both tables. The period is
# looked up per contract (LATERAL, kept apart by its LIMIT: the exclusion constraint allows one
# period in force per contract and buyer), so PostgreSQL reads it by (contract, buyer): as a
# plain join it could choose the exclusion index by buyer alone, a scan of the whole GiST index
# (15 s with the grown bench book's eleven million periods, where this takes 1 ms).
_COVER_SQL = """
SELECT c.id,
       EXISTS (SELECT 1 FROM underwriting_buyer b WHERE b.id = %(buyer)s),
       g.primary_amount, g.amount, g.exposure, upper(g.period), g.id IS NOT NULL
  FROM underwriting_contract c
  LEFT JOIN LATERAL (
       SELECT g.id, g.primary_amount, g.amount, g.exposure, g.period
         FROM underwriting_guarantee g
        WHERE g.contract_id = c.id AND g.buyer_id = %(buyer)s AND g.period @> %(on)s::date
        LIMIT 1
       ) g ON true
 WHERE {contract}
   AND (%(everyone)s OR c.policyholder_id = ANY (%(scope)s::uuid[]))
 ORDER BY g.period NULLS LAST, c.number
 LIMIT 1
"""
_NAMED_CONTRACT = _COVER_SQL.format(contract="c.id = %(contract)s")
_ACTIVE_CONTRACT = _COVER_SQL.format(
    contract="c.policyholder_id = %(policyholder)s AND c.status = %(active)s"
)


def _scope_policyholders() -> list[UUID] | None:
    """The active scope's policyholders (None: all), failing closed as the scoped managers do."""
    current = get_scope()
    if not current.get("_enabled", True):
        return None
    if "policyholder" not in current:
        raise ScopeError("A scope on dimension(s) policyholder needs to be active for this query.")
    ids = current["policyholder"]
    return None if ids is None else list(ids)


def cover_in_force(
    *,
    buyer_id: UUID,
    contract_id: UUID | None,
    policyholder_id: UUID | None,
    on: date,
) -> CoverInForce:
    """The order-time check's hot path in one hand-written statement (an ERP calls it for every
    order): the cover in force on `on` for the buyer on the named contract, or else on the
    policyholder's active contract. The ORM query it replaces cost more to build than to run."""
    scope = _scope_policyholders()
    params = {
        "buyer": buyer_id,
        "on": on,
        "everyone": scope is None,
        "scope": scope or [],
        "contract": contract_id,
        "policyholder": policyholder_id,
        "active": ContractStatus.ACTIVE.value,
    }
    row = sql.fetch_one(
        _NAMED_CONTRACT if contract_id else _ACTIVE_CONTRACT, params, tenant_rows=True
    )
    return _cover(row)


def _cover(row: Any) -> CoverInForce:
    if row is None or row[0] is None:
        return CoverInForce(None, False, ZERO, ZERO, None, None, False)
    contract, buyer_exists, primary, top_up, exposure, upper, in_force = row
    return CoverInForce(
        contract_id=contract,
        buyer_exists=buyer_exists,
        primary=primary if in_force else ZERO,
        top_up=top_up if in_force else ZERO,
        exposure=exposure,
        valid_until=(upper - timedelta(days=1)) if upper else None,
        in_force=in_force,
    )


@cache
def _cover_with_token_statements() -> dict[bool, str]:
    """The token's statement with the cover on its policyholder's own contract read in it
    (keyed by whether a contract is named): one round trip for an ERP's usual call."""
    own = "c.policyholder_id = u.organisation_id AND o.kind = %(policyholder_kind)s"
    return {
        named: token_statement(
            also_select=", cover.*",
            also_join=" LEFT JOIN LATERAL ("
            + _COVER_SQL.format(
                contract=f"{own} AND c.id = %(contract)s"
                if named
                else f"{own} AND c.status = %(active)s"
            )
            + ") cover ON true",
        )
        for named in (True, False)
    }


def cover_in_force_with_token(
    *, digest: str, buyer_id: UUID, contract_id: UUID | None, on: date
) -> tuple[User, AuthToken, CoverInForce | None] | None:
    """The API token whose digest is `digest`, its user, and, in the same statement, the cover
    `cover_in_force` would read for a policyholder's user (None when it does not apply, or when
    the statement did not run under that user's scope).

    The statement runs before the user, hence the scope, is known: it reads the cover under the
    row-level-security setting the connection already has, which an ERP's previous call on the
    same connection left at its own policyholder. The cover counts only when that setting was
    the user's own scope (or when the role is exempt); it is limited to the user's own
    organisation's contracts in SQL either way. The caller checks the token (`token_check`)."""
    statement = _cover_with_token_statements()[contract_id is not None]
    params = {
        "digest": digest,
        "buyer": buyer_id,
        "on": on,
        "everyone": True,  # the statement itself keeps to the user's own contracts
        "scope": [],
        "contract": contract_id,
        "active": ContractStatus.ACTIVE.value,
        "policyholder_kind": OrganisationKind.POLICYHOLDER.value,
    }
    row = sql.fetch_one(statement, params, tenant_rows=False)
    if row is None:
        return None
    user, token = token_from_row(row)
    if getattr(connection, rls.ENFORCED_ATTR, False) and getattr(
        connection, rls.SETTING_ATTR, None
    ) != str(user.organisation_id):
        return user, token, None
    cover = _cover(row[token_width() :])
    return user, token, cover if cover.contract_id is not None else None


def guarantee_history(*, contract: Contract, buyer: Buyer) -> QuerySet[Guarantee]:
    return (
        Guarantee.objects.filter(contract=contract, buyer=buyer)
        .select_related("created_by", "decision")
        .order_by("-created_at")
    )


def aggregate_in_force(
    *, contract: Contract, on: date | None = None, excluding_buyer: Buyer | None = None
) -> Decimal:
    queryset = guarantees_in_force(on=on).filter(contract=contract)
    if excluding_buyer is not None:
        queryset = queryset.exclude(buyer=excluding_buyer)
    return queryset.aggregate(total=Sum("amount"))["total"] or ZERO


def limits_for(
    *,
    contract: Contract,
    buyer: Buyer,
    exposure: Decimal,
    primary: Decimal,
    credit_term_days: int | None,
    on: date | None = None,
) -> TopUpLimits:
    return top_up_limits(
        exposure=exposure,
        primary=primary,
        multiple=contract.top_up_multiple,
        credit_term_days=credit_term_days,
        max_credit_term_days=contract.max_credit_term_days,
        contract_active=contract.status == ContractStatus.ACTIVE,
        contract_number=contract.number,
        buyer_in_liquidation=buyer.proceedings == ProceedingsStatus.LIQUIDATION,
        aggregate_cap=contract.aggregate_cap,
        aggregate_in_force_elsewhere=aggregate_in_force(
            contract=contract, on=on, excluding_buyer=buyer
        )
        if contract.aggregate_cap is not None
        else ZERO,
    )


@dataclass(frozen=True)
class Coverage:
    contract: Contract
    buyer: Buyer
    primary: Decimal
    top_up: Decimal
    total: Decimal
    exposure: Decimal | None
    order_amount: Decimal
    outstanding: Decimal
    headroom: Decimal
    fits: bool
    on: date
    valid_until: date | None

    @property
    def cover_ratio(self) -> Decimal | None:
        return cover_ratio(total=self.total, exposure=self.exposure)


def cover_ratio(*, total: Decimal, exposure: Decimal | None) -> Decimal | None:
    """Total cover as a percentage of exposure, to one decimal, rounded half up."""
    if not exposure:
        return None
    return (total * 100 / exposure).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


_LOOK_UP: Any = object()


def coverage_check(
    *,
    contract: Contract,
    buyer: Buyer,
    order_amount: Decimal = ZERO,
    outstanding: Decimal = ZERO,
    on: date | None = None,
    guarantee: Any = _LOOK_UP,
) -> Coverage:
    """Order-time check: does `outstanding + order_amount` fit under primary + top-up today?"""
    on = on or business_today()
    if guarantee is _LOOK_UP:
        guarantee = guarantee_in_force(contract=contract, buyer=buyer, on=on)
    primary = guarantee.primary_amount if guarantee else ZERO
    top_up = guarantee.amount if guarantee else ZERO
    total = money(primary + top_up)
    headroom = money(total - outstanding - order_amount)
    upper = guarantee.period.upper if guarantee else None
    return Coverage(
        contract=contract,
        buyer=buyer,
        primary=primary,
        top_up=top_up,
        total=total,
        exposure=guarantee.exposure if guarantee else None,
        order_amount=order_amount,
        outstanding=outstanding,
        headroom=headroom,
        fits=total > 0 and headroom >= 0,
        on=on,
        valid_until=(upper - timedelta(days=1)) if upper else None,
    )


def requests_visible() -> QuerySet[GuaranteeRequest]:
    return GuaranteeRequest.objects.select_related(
        "buyer", "contract", "policyholder", "submitted_by", "assigned_to", "decision"
    )


@dataclass(frozen=True)
class RequestFilters:
    """The filters of the arbiter queue and of the requests API, in one place."""

    open_only: bool = False
    status: str = ""
    arbiter: User | None = None
    unassigned: bool = False
    policyholder_id: UUID | str | None = None
    contract_id: UUID | str | None = None
    buyer_id: UUID | str | None = None
    reason: str = ""
    grade_min: int | None = None
    grade_max: int | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    oldest_due_first: bool = False


def requests_filtered(
    filters: RequestFilters, *, within: QuerySet[GuaranteeRequest] | None = None
) -> QuerySet[GuaranteeRequest]:
    """Requests in scope (or `within` a queryset of them) matching `filters`; the queue's order
    (oldest due first) is indexed on `due_at` for open statuses."""
    queryset = requests_visible() if within is None else within
    if filters.open_only:
        queryset = queryset.filter(status__in=OPEN_STATUSES)
    exact = {
        "status": filters.status,
        "assigned_to": filters.arbiter,
        "policyholder_id": filters.policyholder_id,
        "contract_id": filters.contract_id,
        "buyer_id": filters.buyer_id,
        "reason": filters.reason,
        "buyer__grade__gte": filters.grade_min,
        "buyer__grade__lte": filters.grade_max,
        "requested_top_up__gte": filters.amount_min,
        "requested_top_up__lte": filters.amount_max,
    }
    queryset = queryset.filter(**{k: v for k, v in exact.items() if v not in (None, "")})
    if filters.arbiter is None and filters.unassigned:
        queryset = queryset.filter(assigned_to__isnull=True)
    if filters.oldest_due_first:
        return queryset.order_by("due_at", "id")
    return queryset.order_by("-submitted_at", "id")


def queue(**filters: Any) -> QuerySet[GuaranteeRequest]:
    """The arbiter queue: open requests, oldest due first."""
    return requests_filtered(RequestFilters(open_only=True, oldest_due_first=True, **filters))


@dataclass(frozen=True)
class CoverLine:
    guarantee: Guarantee
    total: Decimal
    ratio: Decimal | None


def guarantees_in_force_listed(*, on: date | None = None) -> QuerySet[Guarantee]:
    """Guarantees in force, as the guarantee list shows them (one query per page)."""
    return (
        guarantees_in_force(on=on)
        .select_related("buyer", "contract", "policyholder")
        .order_by("policyholder__name", "buyer__name", "id")
    )


def cover_lines(guarantees: Iterable[Guarantee]) -> list[CoverLine]:
    """Each guarantee with its total cover (primary + top-up) and the ratio to exposure."""
    lines = []
    for guarantee in guarantees:
        total = money(guarantee.primary_amount + guarantee.amount)
        ratio = cover_ratio(total=total, exposure=guarantee.exposure)
        lines.append(CoverLine(guarantee=guarantee, total=total, ratio=ratio))
    return lines


def buyer_accumulation(*, buyer: Buyer, on: date | None = None) -> dict[str, Decimal | int]:
    """The insurer's exposure on one buyer across all policyholders (call with scope off)."""
    in_force = guarantees_in_force(on=on).filter(buyer=buyer)
    totals = in_force.aggregate(top_up=Sum("amount"), primary=Sum("primary_amount"))
    open_requests = GuaranteeRequest.objects.filter(buyer=buyer, status__in=OPEN_STATUSES)
    return {
        "top_up": totals["top_up"] or ZERO,
        "primary": totals["primary"] or ZERO,
        "policyholders": in_force.values("policyholder").distinct().count(),
        "open_requests": open_requests.count(),
        "requested": open_requests.aggregate(total=Sum("requested_top_up"))["total"] or ZERO,
    }


def pending_decision(*, request: GuaranteeRequest) -> PendingDecision | None:
    """The proposal waiting for a senior arbiter's countersignature on `request`, if any."""
    return (
        PendingDecision.objects.filter(request=request, state=CountersignatureState.PENDING)
        .select_related("proposed_by")
        .first()
    )


def covers_from(
    *, on: date, contract: Contract | None = None, buyer: Buyer | None = None
) -> list[Guarantee]:
    """For each (contract, buyer) with cover on any day from `on` (in force then, or starting
    later), its first such period: what an insurer-side end from `on` has to end."""
    queryset = Guarantee.objects.filter(period__overlap=DateRange(on, None, "[)"))
    if contract is not None:
        queryset = queryset.filter(contract=contract)
    if buyer is not None:
        queryset = queryset.filter(buyer=buyer)
    first: dict[tuple[UUID, UUID], Guarantee] = {}
    for guarantee in queryset.select_related(
        "contract__policyholder", "buyer", "policyholder"
    ).order_by("contract_id", "buyer_id", "period"):
        first.setdefault((guarantee.contract_id, guarantee.buyer_id), guarantee)
    return list(first.values())

"""Reads for the role home pages: a wholesaler's dashboard, a broker's clients, the arbiters'
back-office. Each figure is one aggregate query over the active scope, whatever the size of the
book; the callers pass the policyholders whose figures they want (the scope still applies).

What a position is (a decision the issue left to us): on each (contract, buyer) the exposure
and the primary limit are the ones last declared: those of the top-up period in force today
(copied from the request or the primary report that made it), or, on a buyer with no top-up in
force, those of its open request. The uncovered part is exposure − primary − top-up, never
below zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib.postgres.fields.ranges import RangeEndsWith
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import Invoice
from billing.selectors import with_balance
from monitoring.notifications import alert_text
from monitoring.selectors import alert_feed
from portal.money import ZERO, money
from studies.models import OPEN_STATUSES as STUDY_OPEN_STATUSES
from studies.models import Study
from underwriting.models import (
    OPEN_STATUSES,
    Contract,
    CountersignatureState,
    Decision,
    Guarantee,
    GuaranteeRequest,
    PendingDecision,
    RequestStatus,
)
from underwriting.selectors import cover_ratio, guarantees_in_force

_MONEY: DecimalField[Any, Any] = DecimalField(max_digits=16, decimal_places=2)
_NONE = Value(ZERO, output_field=_MONEY)
TOP = 10
ENDING_WITHIN_DAYS = 30
CHART_MONTHS = 12


@dataclass(frozen=True)
class Cover:
    """Declared exposure, primary and top-up in force on a set of buyers."""

    exposure: Decimal = ZERO
    primary: Decimal = ZERO
    top_up: Decimal = ZERO
    buyers: int = 0

    @property
    def total(self) -> Decimal:
        return self.primary + self.top_up

    @property
    def ratio(self) -> Decimal | None:
        """Total cover as a percentage of the exposure declared."""
        return cover_ratio(total=self.total, exposure=self.exposure)

    def __add__(self, other: Cover) -> Cover:
        return Cover(
            exposure=self.exposure + other.exposure,
            primary=self.primary + other.primary,
            top_up=self.top_up + other.top_up,
            buyers=self.buyers + other.buyers,
        )


def _live_contracts(first: date, last: date) -> QuerySet[Contract]:
    """Contracts whose dates overlap [first, last]."""
    return Contract.objects.filter(starts_on__lte=last).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=first)
    )


def _periods(
    first: date, last: date, policyholder_ids: Sequence[UUID] | None = None
) -> QuerySet[Guarantee]:
    """Guarantee periods that may be in force on a day of [first, last] (of `policyholder_ids`,
    or of the whole scope).

    A period is in force only while its contract is (a contract's end ends its top-ups), so the
    periods are reached through the contracts live then, by `contract_id`. Under row-level
    security PostgreSQL may not use the period's GiST index for a range operator (it is not
    leakproof, so the tenant policy is checked first, row by row): without this a year-old
    book of a million ended periods is read whole on every home page.

    The live contracts are read first, by a query of their own, and handed over as a list:
    as a subquery, PostgreSQL guessed how many contracts are live from their dates (1 608 of
    110 000 where 5 were) and, once the policy allowed parallel scans, preferred reading the
    eleven million periods of the grown bench book in parallel (0.9 s for the arbiter's home)
    to looking up the few live contracts' periods by index."""
    contracts = _live_contracts(first, last)
    if policyholder_ids is not None:
        contracts = contracts.filter(policyholder_id__in=policyholder_ids)
    periods = Guarantee.objects.filter(
        contract_id__in=list(contracts.order_by().values_list("pk", flat=True)),
        period__overlap=DateRange(first, last, "[]"),
    )
    if policyholder_ids is not None:
        periods = periods.filter(policyholder_id__in=policyholder_ids)
    return periods


def _all_in_force(on: date) -> QuerySet[Guarantee]:
    return _periods(on, on).filter(period__contains=on)


def _in_force(ids: Sequence[UUID], on: date) -> QuerySet[Guarantee]:
    return _periods(on, on, ids).filter(period__contains=on)


def _requests_without_cover(ids: Sequence[UUID], on: date) -> QuerySet[GuaranteeRequest]:
    """Open requests on a buyer that has no top-up in force on their contract."""
    return GuaranteeRequest.objects.filter(
        policyholder_id__in=ids, status__in=OPEN_STATUSES
    ).filter(~_covered(on))


def _covered(on: date) -> Exists:
    """Whether the outer request's buyer has a top-up in force on its contract."""
    return Exists(
        guarantees_in_force(on=on).filter(
            contract_id=OuterRef("contract_id"), buyer_id=OuterRef("buyer_id")
        )
    )


def cover_by_policyholder(*, policyholder_ids: Sequence[UUID], on: date) -> dict[UUID, Cover]:
    """Each policyholder's top-up positions in force summed (those without any left out)."""
    rows = (
        _in_force(policyholder_ids, on)
        .order_by()
        .values("policyholder_id")
        .annotate(
            top_up=Coalesce(Sum("amount"), _NONE),
            primary=Coalesce(Sum("primary_amount"), _NONE),
            exposure=Coalesce(Sum("exposure"), _NONE),
            buyers=Count("buyer_id", distinct=True),
        )
    )
    return {
        row["policyholder_id"]: Cover(
            exposure=row["exposure"],
            primary=row["primary"],
            top_up=row["top_up"],
            buyers=row["buyers"],
        )
        for row in rows
    }


def open_requests(
    *, policyholder_ids: Sequence[UUID], on: date
) -> tuple[dict[UUID, dict[str, int]], dict[UUID, Cover]]:
    """In one query, per policyholder: the number of open requests in each open status, and the
    positions declared by those on a buyer without a top-up in force (exposure, primary)."""
    counts: dict[UUID, dict[str, int]] = {}
    covers: dict[UUID, Cover] = {}
    bare = Q(covered=False)
    rows = (
        GuaranteeRequest.objects.filter(
            policyholder_id__in=policyholder_ids, status__in=OPEN_STATUSES
        )
        .annotate(covered=_covered(on))
        .order_by()
        .values("policyholder_id", "status")
        .annotate(
            count=Count("id"),
            primary=Coalesce(Sum("primary_amount", filter=bare), _NONE),
            exposure=Coalesce(Sum("exposure", filter=bare), _NONE),
            buyers=Count("buyer_id", filter=bare),
        )
    )
    for row in rows:
        owner = row["policyholder_id"]
        counts.setdefault(owner, {})[row["status"]] = row["count"]
        declared = Cover(exposure=row["exposure"], primary=row["primary"], buyers=row["buyers"])
        covers[owner] = covers.get(owner, Cover()) + declared
    ordered = {
        owner: {str(status): by_status[status] for status in OPEN_STATUSES if status in by_status}
        for owner, by_status in counts.items()
    }
    return ordered, covers


@dataclass(frozen=True)
class Uncovered:
    buyer_id: UUID
    buyer_name: str
    contract_id: UUID
    exposure: Decimal
    primary: Decimal
    top_up: Decimal

    @property
    def covered(self) -> Decimal:
        return self.primary + self.top_up

    @property
    def uncovered(self) -> Decimal:
        return max(ZERO, self.exposure - self.covered)


def largest_uncovered(
    *, policyholder_ids: Sequence[UUID], on: date, limit: int = TOP
) -> list[Uncovered]:
    """The buyers with the largest exposure left uncovered (exposure − primary − top-up > 0),
    largest first: positions with a top-up and open requests without one, in one query."""
    columns = ("buyer_id", "buyer__name", "contract_id", "exposure", "primary_amount")
    gap = Coalesce(F("exposure"), _NONE) - F("primary_amount")
    with_top_up = (
        _in_force(policyholder_ids, on)
        .annotate(gap=gap - F("amount"), top_up=F("amount"))
        .filter(gap__gt=0)
        .values_list(*columns, "top_up", "gap")
    )
    without = (
        _requests_without_cover(policyholder_ids, on)
        .annotate(gap=gap, top_up=_NONE)
        .filter(gap__gt=0)
        .values_list(*columns, "top_up", "gap")
    )
    rows = with_top_up.union(without, all=True).order_by("-gap", "buyer__name")[:limit]
    return [
        Uncovered(
            buyer_id=buyer_id,
            buyer_name=name,
            contract_id=contract_id,
            exposure=exposure or ZERO,
            primary=primary,
            top_up=top_up,
        )
        for buyer_id, name, contract_id, exposure, primary, top_up, _gap in rows
    ]


def top_ups_ending(
    *, policyholder_ids: Sequence[UUID], on: date, within_days: int = ENDING_WITHIN_DAYS
) -> QuerySet[Guarantee]:
    """Top-ups in force whose last day falls in the next `within_days` days with nothing after
    them (seasonal limits, mostly): soonest first, `last_day` annotated."""
    following = Guarantee.objects.filter(
        contract_id=OuterRef("contract_id"),
        buyer_id=OuterRef("buyer_id"),
        period__startswith=OuterRef("ends"),
    )
    return (
        _in_force(policyholder_ids, on)
        .filter(period__endswith__lte=on + timedelta(days=within_days + 1))
        .annotate(ends=RangeEndsWith("period"))
        .filter(~Exists(following))
        .select_related("buyer", "policyholder")
        .order_by("ends", "buyer__name")
    )


def recent_decisions(*, policyholder_ids: Sequence[UUID], limit: int = 5) -> QuerySet[Decision]:
    """The latest decisions on the policyholders' requests. Their internal note never leaves the
    insurer: pages outside it show `client_message` only."""
    return (
        Decision.objects.filter(policyholder_id__in=policyholder_ids)
        .select_related("request__buyer")
        .order_by("-decided_at")[:limit]
    )


@dataclass(frozen=True)
class AlertItem:
    occurred_on: date
    buyer_name: str
    subject: str


def recent_alerts(*, policyholder_id: UUID, limit: int = 5) -> list[AlertItem]:
    """The latest alerts the policyholder received, with their subject line: one query."""
    return [
        AlertItem(
            occurred_on=row.alert.occurred_on,
            buyer_name=row.alert.buyer.name,
            subject=alert_text(row.alert, buyer=row.alert.buyer.name)[0],
        )
        for row in alert_feed(policyholder_id=policyholder_id)[:limit]
    ]


@dataclass(frozen=True)
class InvoiceFigures:
    due_count: int = 0
    due_amount: Decimal = ZERO
    overdue_count: int = 0
    overdue_amount: Decimal = ZERO


def invoice_figures(*, policyholder_ids: Sequence[UUID]) -> InvoiceFigures:
    """Issued invoices with a balance left (payments and credit notes deducted), not yet due
    and overdue (count and balance): what finance pays next."""
    unpaid = with_balance(
        Invoice.objects.filter(policyholder_id__in=policyholder_ids, outstanding=True)
    )
    figures = unpaid.order_by().aggregate(
        due_count=Count("id", filter=Q(overdue=False)),
        due_amount=Coalesce(Sum("balance", filter=Q(overdue=False)), _NONE),
        overdue_count=Count("id", filter=Q(overdue=True)),
        overdue_amount=Coalesce(Sum("balance", filter=Q(overdue=True)), _NONE),
    )
    return InvoiceFigures(**figures)


# --- cover in force over the last 12 months -------------------------------------------------


@dataclass(frozen=True)
class CoverPoint:
    on: date
    primary: Decimal
    top_up: Decimal

    @property
    def total(self) -> Decimal:
        return self.primary + self.top_up


def month_ends(*, today: date, months: int = CHART_MONTHS) -> list[date]:
    """The last day of each of the `months` − 1 months before today's, then today."""
    days = [today]
    day = today.replace(day=1)
    for _ in range(months - 1):
        day -= timedelta(days=1)  # the last day of the month before
        days.append(day)
        day = day.replace(day=1)
    return sorted(days)


# Each day joined to the periods in force on it. The periods are the scoped queryset's own SQL
# (its tenant filter included); written out because twelve days × two filtered sums through
# the ORM cost more to compile than the query takes to run.
_HISTORY_SQL = """
SELECT d.day, COALESCE(SUM(g.primary_amount), 0), COALESCE(SUM(g.amount), 0)
  FROM unnest(%s::date[]) AS d(day)
  LEFT JOIN ({periods}) g ON g.period @> d.day
 GROUP BY d.day
 ORDER BY d.day
"""


def cover_history(*, policyholder_ids: Sequence[UUID], today: date) -> list[CoverPoint]:
    """Primary and top-up in force at each month end of the last 12 months (today for the
    current month): one query over the periods overlapping the window."""
    days = month_ends(today=today)
    periods = (
        _periods(days[0], days[-1], policyholder_ids)
        .order_by()
        .values("primary_amount", "amount", "period")
    )
    try:
        sql, params = periods.query.sql_with_params()
    except EmptyResultSet:  # no contract live in the window: nothing in force at any month end
        return [CoverPoint(on=day, primary=ZERO, top_up=ZERO) for day in days]
    with connection.cursor() as cursor:
        cursor.execute(_HISTORY_SQL.format(periods=sql), [days, *params])
        rows = cursor.fetchall()
    return [
        CoverPoint(on=day, primary=money(primary), top_up=money(top_up))
        for day, primary, top_up in rows
    ]


# --- the arbiters' back-office --------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    open: int = 0
    overdue: int = 0
    unassigned: int = 0
    mine: int = 0
    to_countersign: int = 0


def queue_counts(*, user: Any, now: datetime, countersigns: bool) -> QueueCounts:
    """Open requests in scope: all, past their due time, unassigned, assigned to `user`, and
    (for a countersigner) the proposals of others waiting for `user`'s countersignature."""
    counts = (
        GuaranteeRequest.objects.filter(status__in=OPEN_STATUSES)
        .order_by()
        .aggregate(
            open=Count("id"),
            overdue=Count("id", filter=Q(due_at__lt=now)),
            unassigned=Count("id", filter=Q(assigned_to__isnull=True)),
            mine=Count("id", filter=Q(assigned_to=user)),
        )
    )
    to_countersign = awaiting_countersignature(user=user).count() if countersigns else 0
    return QueueCounts(**counts, to_countersign=to_countersign)


def awaiting_countersignature(*, user: Any) -> QuerySet[PendingDecision]:
    """Proposals waiting for a countersignature that `user` may give (never their own), oldest
    first."""
    return (
        PendingDecision.objects.filter(
            state=CountersignatureState.PENDING,
            request__status=RequestStatus.AWAITING_COUNTERSIGNATURE,
        )
        .exclude(proposed_by=user)
        .select_related("request__buyer", "policyholder", "proposed_by")
        .order_by("proposed_at", "id")
    )


@dataclass(frozen=True)
class BuyerExposure:
    buyer_id: UUID
    buyer_name: str
    grade: int | None
    top_up: Decimal
    primary: Decimal
    policyholders: int

    @property
    def total(self) -> Decimal:
        return self.top_up + self.primary


def largest_exposures(*, on: date, limit: int = TOP) -> list[BuyerExposure]:
    """The insurer's largest top-up exposures by buyer: Σ top-ups in force across the
    policyholders in scope, with the primary limits beside them."""
    rows = (
        _all_in_force(on)
        .order_by()
        .values("buyer_id", "buyer__name", "buyer__grade")
        .annotate(
            top_up=Sum("amount"),
            primary=Sum("primary_amount"),
            policyholders=Count("policyholder_id", distinct=True),
        )
        .order_by("-top_up", "buyer__name")[:limit]
    )
    return [
        BuyerExposure(
            buyer_id=row["buyer_id"],
            buyer_name=row["buyer__name"],
            grade=row["buyer__grade"],
            top_up=row["top_up"],
            primary=row["primary"],
            policyholders=row["policyholders"],
        )
        for row in rows
    ]


# --- what a home page shows ------------------------------------------------------------------


@dataclass
class PolicyholderFigures:
    """One policyholder's line on a broker's home, or the head of its dashboard."""

    cover: Cover = field(default_factory=Cover)
    open_requests: dict[str, int] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.open_requests.values())


def policyholder_figures(
    *, policyholder_ids: Iterable[UUID], on: date
) -> dict[UUID, PolicyholderFigures]:
    """Cover and open requests per policyholder: two queries for any number of them."""
    ids = list(policyholder_ids)
    covers = cover_by_policyholder(policyholder_ids=ids, on=on)
    counts, declared = open_requests(policyholder_ids=ids, on=on)
    return {
        pk: PolicyholderFigures(
            cover=covers.get(pk, Cover()) + declared.get(pk, Cover()),
            open_requests=counts.get(pk, {}),
        )
        for pk in ids
    }


def studies_in_progress(*, limit: int = TOP) -> QuerySet[Study]:
    """Studies in scope not yet accepted, declined or expired, latest first."""
    return (
        Study.objects.filter(status__in=STUDY_OPEN_STATUSES)
        .select_related("policyholder")
        .order_by("-created_at")[:limit]
    )

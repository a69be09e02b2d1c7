"""Monitoring reads, within the active scope: pages and the API call the same selectors."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import (
    Aggregate,
    Count,
    DecimalField,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from monitoring.models import (
    OPENINGS,
    Alert,
    AlertExposure,
    AlertRule,
    BuyerInsight,
    GradeChange,
    HealthFile,
    InsightExposure,
    JudgmentEvent,
    NoticeState,
    ProceedingsNotice,
)
from monitoring.notifications import alert_text
from portal.models import Organisation
from portal.money import ZERO
from portal.timeutils import business_today
from underwriting.models import (
    OPEN_STATUSES,
    Buyer,
    Contract,
    ContractStatus,
    GuaranteeRequest,
)
from underwriting.selectors import guarantees_in_force


def grade_history(*, buyer: Buyer) -> QuerySet[GradeChange]:
    """The buyer's applied grade changes, oldest first."""
    return GradeChange.objects.filter(buyer=buyer, applied_at__isnull=False).order_by(
        "effective_on", "id"
    )


def grade_current(*, buyer: Buyer) -> GradeChange | None:
    """The applied change that gave the buyer its grade now (its date and source), if any."""
    return (
        GradeChange.objects.filter(buyer=buyer, applied_at__isnull=False, grade=buyer.grade)
        .order_by("-effective_on", "-id")
        .first()
    )


def proceedings_history(*, buyer: Buyer) -> QuerySet[ProceedingsNotice]:
    """The buyer's applied notices, latest judgment first, with what became of each."""
    return ProceedingsNotice.objects.filter(buyer=buyer, applied_at__isnull=False).order_by(
        "-judged_on", "-published_on", "-id"
    )


# --- the arbiters' monitoring page ----------------------------------------------------------
# Insurer staff only (their scope is every policyholder). "Over a period" means what reached
# the platform in the last days (raised, applied): a notice published late is news all the same.


def _buyer_search(search: str, *, prefix: str = "") -> Q:
    """A buyer's name, or its SIREN as typed (spaces and dots ignored)."""
    query = Q(**{f"{prefix}name__icontains": search})
    digits = re.sub(r"[\s.]", "", search)
    if digits.isdigit():
        query |= Q(**{f"{prefix}siren__startswith": digits})
    return query


def alerts_latest(*, since: datetime, rule: str = "", search: str = "") -> QuerySet[Alert]:
    """Alerts raised since `since`, latest first, with their buyer and `reached`, the number
    of policyholders they reached."""
    alerts = Alert.objects.filter(created_at__gte=since)
    if rule:
        alerts = alerts.filter(Q(rule=rule) | Q(rules__contains=[rule]))
    if search:
        alerts = alerts.filter(_buyer_search(search, prefix="buyer__"))
    return (
        alerts.select_related("buyer")
        .annotate(reached=Count("exposures"))
        .order_by("-created_at", "-id")
    )


def grade_moves(*, since: datetime, search: str = "") -> QuerySet[GradeChange]:
    """Grades applied since `since` that moved a buyer (previous grade → new grade); history
    filled in (an older date than the buyer's latest) is not a move."""
    moves = GradeChange.objects.filter(applied_at__gte=since, previous_grade__isnull=False).exclude(
        previous_grade=F("grade")
    )
    if search:
        moves = moves.filter(_buyer_search(search, prefix="buyer__"))
    return moves.select_related("buyer").order_by("-applied_at", "-effective_on", "-id")


def proceedings_moves(*, since: datetime, search: str = "") -> QuerySet[ProceedingsNotice]:
    """Proceedings opened or closed, applied since `since` and still in force (a duplicate,
    a replaced or a withdrawn notice is not a move)."""
    moves = ProceedingsNotice.objects.filter(
        applied_at__gte=since,
        state=NoticeState.ACTIVE,
        event__in=[*OPENINGS, JudgmentEvent.CLOSURE],
    )
    if search:
        moves = moves.filter(_buyer_search(search, prefix="buyer__"))
    return moves.select_related("buyer").order_by("-applied_at", "-judged_on", "-id")


def exposure_at_stake(
    *, since: datetime, rule: str = "", search: str = "", on: date | None = None
) -> QuerySet[Buyer]:
    """The buyers with alerts since `since`, each with the top-ups in force on them across
    policyholders (`top_up`, `policyholders`), its alerts (`alert_count`, `last_alert`),
    largest exposure first. One query: the sums are subqueries, not a row per guarantee."""
    alerts = alerts_latest(since=since, rule=rule, search=search)
    in_force = guarantees_in_force(on=on).filter(buyer=OuterRef("pk")).order_by().values("buyer")
    counted = Q(alerts__created_at__gte=since)
    if rule:
        counted &= Q(alerts__rule=rule) | Q(alerts__rules__contains=[rule])
    return (
        Buyer.objects.filter(pk__in=alerts.values("buyer_id"))
        .annotate(
            top_up=Coalesce(
                Subquery(in_force.annotate(total=Sum("amount")).values("total")),
                Value(ZERO),
                output_field=DecimalField(max_digits=16, decimal_places=2),
            ),
            policyholders=Coalesce(
                Subquery(
                    in_force.annotate(count=Count("policyholder", distinct=True)).values("count")
                ),
                Value(0),
            ),
            alert_count=Count("alerts", filter=counted),
            last_alert=Max("alerts__created_at", filter=counted),
        )
        .order_by("-top_up", "-last_alert", "name")
    )


def health_files() -> QuerySet[HealthFile]:
    """The import history, latest first, with `problem_count` (the rejected lines, counted in
    the database: a file's problems are not loaded to be counted)."""
    return (
        HealthFile.objects.select_related("received_by")
        .defer("problems")
        .annotate(
            problem_count=Func(
                F("problems"), function="jsonb_array_length", output_field=IntegerField()
            )
        )
        .order_by("-received_at", "-id")
    )


# --- the policyholder's side: its alert feed and the buyers it watches ----------------------
# Within the active scope: a policyholder's users read its own rows, a broker those of the
# policyholders of its current mandates (so every row names its policyholder). A constant
# number of queries per page, whatever its length.

WATCHLIST_SORTS = ("exposure", "grade", "name")
TREND_DAYS = 365  # the sparkline's window


def alert_feed(
    *, buyer: Buyer | None = None, policyholder_id: UUID | None = None
) -> QuerySet[AlertExposure]:
    """The alerts that reached the policyholders in scope (optionally one buyer's, or one
    policyholder's), latest first, with the alert, its buyer and the policyholder."""
    feed = AlertExposure.objects.all()
    if buyer is not None:
        feed = feed.filter(alert__buyer=buyer)
    if policyholder_id is not None:
        feed = feed.filter(policyholder_id=policyholder_id)
    return feed.select_related("alert__buyer", "policyholder").order_by("-created_at", "-id")


def active_contract_ids(policyholder_ids: Iterable[UUID]) -> dict[UUID, UUID]:
    """The active contract of each policyholder in scope that has one (for buyer links)."""
    return dict(
        Contract.objects.filter(
            policyholder_id__in=set(policyholder_ids), status=ContractStatus.ACTIVE
        ).values_list("policyholder_id", "pk")
    )


@dataclass
class AlertLine:
    """An alert as a policyholder received it: its message and the exposure it had then."""

    exposure: AlertExposure
    subject: str
    body: str
    rule_labels: list[str]
    contract_id: UUID | None  # the policyholder's active contract: the buyer page's


def alert_lines(exposures: Iterable[AlertExposure]) -> list[AlertLine]:
    """`alert_feed` rows (a page of them) with their French message: one more query."""
    rows = list(exposures)
    contracts = active_contract_ids(row.policyholder_id for row in rows)
    lines = []
    for row in rows:
        alert = row.alert
        subject, body = alert_text(alert, buyer=alert.buyer.name)
        rules = alert.rules or [alert.rule]
        lines.append(
            AlertLine(
                exposure=row,
                subject=subject,
                body=body,
                rule_labels=[str(AlertRule(rule).label) for rule in rules],
                contract_id=contracts.get(row.policyholder_id),
            )
        )
    return lines


@dataclass
class Watched:
    """A buyer a policyholder in scope is exposed to: top-ups in force, open requests."""

    policyholder_id: UUID
    buyer_id: UUID
    buyer_name: str
    grade: int
    top_up: Decimal = ZERO
    open_requests: int = 0


_PAIR = ("policyholder_id", "buyer_id", "buyer__name", "buyer__grade")


def _per_pair(rows: QuerySet[Any], aggregate: Aggregate) -> list[tuple[Any, ...]]:
    """(policyholder, buyer, buyer's name, buyer's grade, aggregate) per pair: one GROUP BY."""
    return list(
        rows.order_by().values(*_PAIR).annotate(value=aggregate).values_list(*_PAIR, "value")
    )


def watched_buyers(*, sort: str = "exposure", on: date | None = None) -> list[Watched]:
    """Every (policyholder, buyer) in scope with a top-up in force on `on` or an open request,
    sorted by exposure (largest first), grade (worst first) or name. Two grouped queries; the
    rows are small, the page's details come from `watchlist_rows`."""
    day = on or business_today()
    pairs: dict[tuple[UUID, UUID], Watched] = {}
    in_force = guarantees_in_force(on=day)
    for policyholder_id, buyer_id, name, grade, top_up in _per_pair(in_force, Sum("amount")):
        pairs[(policyholder_id, buyer_id)] = Watched(
            policyholder_id, buyer_id, name, grade, top_up=top_up
        )
    requests = GuaranteeRequest.objects.filter(status__in=OPEN_STATUSES)
    for policyholder_id, buyer_id, name, grade, count in _per_pair(requests, Count("id")):
        watched = pairs.setdefault(
            (policyholder_id, buyer_id), Watched(policyholder_id, buyer_id, name, grade)
        )
        watched.open_requests = count
    rows = sorted(
        pairs.values(), key=lambda row: (row.buyer_name.casefold(), str(row.policyholder_id))
    )
    if sort == "grade":
        rows.sort(key=lambda row: row.grade)
    elif sort != "name":
        rows.sort(key=lambda row: row.top_up, reverse=True)
    return rows


@dataclass
class WatchRow:
    """A watched buyer as the page shows it, with its grade trend."""

    watched: Watched
    buyer: Buyer
    policyholder: Organisation
    contract_id: UUID | None
    history: list[GradeChange] = field(default_factory=list)  # within the trend window
    start_grade: int | None = None  # the grade in force at the window's start
    previous_grade: int | None = None  # the grade before the latest change
    changed_on: date | None = None  # the latest change's date
    since: date = date.min


def watchlist_rows(page: Iterable[Watched], *, on: date | None = None) -> list[WatchRow]:
    """A page of `watched_buyers` with the buyers, policyholders, contracts and grade
    histories it needs: four queries, whatever the page's length."""
    watched = list(page)
    today = on or business_today()
    since = today - timedelta(days=TREND_DAYS)
    buyer_ids = {row.buyer_id for row in watched}
    policyholder_ids = {row.policyholder_id for row in watched}
    buyers = Buyer.objects.in_bulk(buyer_ids)
    policyholders = Organisation.objects.in_bulk(policyholder_ids)
    contracts = active_contract_ids(policyholder_ids)
    histories: dict[UUID, list[GradeChange]] = defaultdict(list)
    for change in GradeChange.objects.filter(
        buyer_id__in=buyer_ids, applied_at__isnull=False, effective_on__lte=today
    ).order_by("buyer_id", "effective_on", "id"):
        histories[change.buyer_id].append(change)
    rows = []
    for item in watched:
        changes = histories.get(item.buyer_id, [])
        before = [change for change in changes if change.effective_on <= since]
        within = changes[len(before) :]
        row = WatchRow(
            watched=item,
            buyer=buyers[item.buyer_id],
            policyholder=policyholders[item.policyholder_id],
            contract_id=contracts.get(item.policyholder_id),
            history=within,
            since=since,
        )
        if before:
            row.start_grade = before[-1].grade
        elif within:
            row.start_grade = within[0].previous_grade
        else:
            row.start_grade = row.buyer.grade
        if changes:
            latest = changes[-1]
            row.changed_on = latest.effective_on
            row.previous_grade = (
                latest.previous_grade
                if latest.previous_grade is not None
                else (changes[-2].grade if len(changes) > 1 else None)
            )
        rows.append(row)
    return rows


# --- expert insights on buyers --------------------------------------------------------------
# Insurer staff read every insight on a buyer (`insight_history`). A policyholder's users and
# its brokers read, within the active scope, the insights that reached one of its policyholders
# when published (`InsightExposure`) and, on a buyer one of them is exposed to today (top-up in
# force or open request), the buyer's whole history: a wholesaler that starts a request on a
# buyer sees the arbiters' current view of it, though it was not notified (it was not exposed
# when the insight was published). Anybody else sees none: an unexposed tenant reads nothing.


def _with_superseded(insights: QuerySet[BuyerInsight]) -> QuerySet[BuyerInsight]:
    """Latest first, each with `superseded` (a newer insight replaced it) and its buyer."""
    return (
        insights.select_related("buyer", "author")
        .annotate(superseded=Exists(BuyerInsight.objects.filter(supersedes=OuterRef("pk"))))
        .order_by("-published_at", "-id")
    )


def insight_history(*, buyer: Buyer | None = None) -> QuerySet[BuyerInsight]:
    """Insurer staff: every insight (on one buyer), latest first."""
    insights = BuyerInsight.objects.all()
    if buyer is not None:
        insights = insights.filter(buyer=buyer)
    return _with_superseded(insights)


def insights_visible(
    *,
    buyer: Buyer | UUID | None = None,
    policyholder_id: UUID | None = None,
    on: date | None = None,
) -> QuerySet[BuyerInsight]:
    """The insights the policyholders in scope (or one of them) may read, latest first."""
    day = on or business_today()
    reached = InsightExposure.objects.all()
    in_force = guarantees_in_force(on=day)
    requests = GuaranteeRequest.objects.filter(status__in=OPEN_STATUSES)
    if policyholder_id is not None:
        reached = reached.filter(policyholder_id=policyholder_id)
        in_force = in_force.filter(policyholder_id=policyholder_id)
        requests = requests.filter(policyholder_id=policyholder_id)
    insights = BuyerInsight.objects.filter(
        Q(pk__in=reached.values("insight_id"))
        | Q(buyer_id__in=in_force.values("buyer_id"))
        | Q(buyer_id__in=requests.values("buyer_id"))
    )
    if buyer is not None:
        insights = insights.filter(buyer=buyer)
    return _with_superseded(insights)


def insight_feed(*, policyholder_id: UUID | None = None) -> QuerySet[InsightExposure]:
    """The insights that reached the policyholders in scope, as they received them, latest
    first: the alert feed's section of insights."""
    feed = InsightExposure.objects.all()
    if policyholder_id is not None:
        feed = feed.filter(policyholder_id=policyholder_id)
    return feed.select_related("insight__buyer", "policyholder").order_by("-created_at", "-id")


@dataclass
class InsightLine:
    """An insight as a policyholder received it, with its active contract (the buyer page's)."""

    exposure: InsightExposure
    contract_id: UUID | None


def insight_lines(exposures: Iterable[InsightExposure]) -> list[InsightLine]:
    """`insight_feed` rows (a page of them) with their contracts: one more query."""
    rows = list(exposures)
    contracts = active_contract_ids(row.policyholder_id for row in rows)
    return [
        InsightLine(exposure=row, contract_id=contracts.get(row.policyholder_id)) for row in rows
    ]

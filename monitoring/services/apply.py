"""The sweep: apply what the providers delivered, in publication order, once.

Notices: the same judgment published twice counts once (`DUPLICATE`); a rectification replaces
the notice it names and carries the corrected judgment; a cancellation withdraws the notice it
names. Each buyer's proceedings are then read again from its notices in force (an opening sets
them, a closure ends them), liquidation ends the top-ups on the buyer from the judgment date,
any opening holds the open requests on it for the arbiter, and each new opening raises one alert.

Grades: a change dated after the buyer's latest known grade is compared with the grade before it
(a fall of 2 or more, or a fall to 3 or less, raises one alert); an older one only fills the
history. The buyer's grade is its latest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from monitoring.models import (
    OPENINGS,
    Alert,
    AlertRule,
    GradeChange,
    JudgmentEvent,
    NoticeKind,
    NoticeState,
    ProceedingsNotice,
)
from monitoring.services.alerts import alerts_raise
from portal.bulk import chunks, rows_update
from portal.timeutils import business_today
from underwriting.models import Buyer, ProceedingsStatus
from underwriting.services.guarantees import guarantees_end_on_liquidations
from underwriting.services.requests import guarantee_requests_hold

# pg_advisory_xact_lock key: one sweep applies at a time ("moni").
SWEEP_LOCK = 0x6D6F6E69

STATUS_OF_OPENING = {
    JudgmentEvent.SAFEGUARD: ProceedingsStatus.SAFEGUARD,
    JudgmentEvent.RECEIVERSHIP: ProceedingsStatus.RECEIVERSHIP,
    JudgmentEvent.LIQUIDATION: ProceedingsStatus.LIQUIDATION,
}


@dataclass
class Applied:
    notices: int = 0
    duplicates: int = 0
    replaced: int = 0
    withdrawn: int = 0
    orphans: int = 0
    grades: int = 0
    buyers_moved: int = 0
    guarantees_ended: int = 0
    requests_held: int = 0
    alerts: int = 0


@transaction.atomic(durable=True)
def health_apply(*, today: date | None = None) -> Applied:
    """Apply every notice and grade change received and not applied yet. Runs with the scope of
    all policyholders: an alert reaches whoever is exposed, whichever tenant."""
    today = today or business_today()
    applied = Applied()
    with scopes_disabled(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SWEEP_LOCK])
        _apply_notices(applied, today=today)
        applied.alerts += len(alerts_raise(_apply_grades(applied), today=today))
    return applied


# --- notices ------------------------------------------------------------------------------


def _index(notices: Iterable[ProceedingsNotice]) -> dict[str, ProceedingsNotice]:
    index: dict[str, ProceedingsNotice] = {}
    for notice in notices:
        index.setdefault(notice.date_key, notice)
        index[notice.key] = notice
    return index


def _lookups(
    pending: Sequence[ProceedingsNotice],
) -> tuple[dict[str, ProceedingsNotice], dict[str, list[ProceedingsNotice]], set[str]]:
    """The notices the pending corrections name, the corrections applied before the notice they
    name arrived, and the judgments already in force."""
    names = sorted(
        {n.previous_key for n in pending if n.previous_key}
        | {n.previous_date_key for n in pending if n.previous_date_key}
    )
    targets: list[ProceedingsNotice] = []
    for chunk in chunks(names):
        targets += ProceedingsNotice.objects.filter(
            Q(key__any=chunk) | Q(date_key__any=chunk), applied_at__isnull=False
        )
    index = _index(targets)
    index.update(_index(pending))
    own = sorted({n.key for n in pending} | {n.date_key for n in pending})
    early: dict[str, list[ProceedingsNotice]] = defaultdict(list)
    for chunk in chunks(own):
        for correction in ProceedingsNotice.objects.filter(
            Q(previous_key__any=chunk) | Q(previous_date_key__any=chunk),
            applied_at__isnull=False,
            kind__in=[NoticeKind.RECTIFICATION, NoticeKind.CANCELLATION],
        ):
            early[correction.previous_key].append(correction)
            if correction.previous_date_key:
                early[correction.previous_date_key].append(correction)
    judgments = sorted({n.judgment_key for n in pending if n.judgment_key})
    in_force: set[str] = set()
    for chunk in chunks(judgments):
        in_force.update(
            ProceedingsNotice.objects.filter(
                judgment_key__any=chunk, state=NoticeState.ACTIVE
            ).values_list("judgment_key", flat=True)
        )
    return index, early, in_force


def _as_judgment(notice: ProceedingsNotice, in_force: set[str], applied: Applied) -> bool:
    """Count the notice's judgment once; True when it is new."""
    if notice.judgment_key and notice.judgment_key in in_force:
        notice.state = NoticeState.DUPLICATE
        applied.duplicates += 1
        return False
    notice.state = NoticeState.ACTIVE
    if notice.judgment_key:
        in_force.add(notice.judgment_key)
    return bool(notice.event)


def _apply_notices(applied: Applied, *, today: date) -> None:
    pending = list(
        ProceedingsNotice.objects.filter(applied_at__isnull=True).order_by("published_on", "id")
    )
    if not pending:
        return
    index, early, in_force = _lookups(pending)
    now = timezone.now()
    changed: dict[int, ProceedingsNotice] = {}
    new_judgments: list[ProceedingsNotice] = []
    for notice in pending:
        changed[notice.pk] = notice
        notice.applied_at = now
        applied.notices += 1
        if notice.kind == NoticeKind.INITIAL or (
            notice.kind == NoticeKind.RECTIFICATION
            and _target(notice, index) is None
            and notice.judgment_key
        ):
            if notice.state != NoticeState.PENDING:
                continue  # a correction in this batch already replaced or withdrew it
            corrections = early.get(notice.key) or early.get(notice.date_key)
            if corrections:
                # Its correction came first (another file): it is replaced or withdrawn at once.
                rectified = any(c.kind == NoticeKind.RECTIFICATION for c in corrections)
                notice.state = NoticeState.REPLACED if rectified else NoticeState.WITHDRAWN
                continue
            if _as_judgment(notice, in_force, applied):
                new_judgments.append(notice)
            continue
        target = _target(notice, index)
        if target is None:
            notice.state = NoticeState.ORPHAN
            applied.orphans += 1
            continue
        if target.state == NoticeState.ACTIVE and target.judgment_key:
            in_force.discard(target.judgment_key)
        notice.corrects = target
        changed[target.pk] = target
        if notice.kind == NoticeKind.RECTIFICATION:
            target.state = NoticeState.REPLACED
            applied.replaced += 1
            if _as_judgment(notice, in_force, applied):
                new_judgments.append(notice)
        else:
            target.state = NoticeState.WITHDRAWN
            applied.withdrawn += 1
            notice.state = NoticeState.ACTIVE
    written = list(changed.values())
    rows_update(
        ProceedingsNotice,
        [notice.pk for notice in written],
        {
            "state": ("text", [notice.state for notice in written]),
            "corrects_id": ("bigint", [notice.corrects_id for notice in written]),
            "applied_at": ("timestamptz", [notice.applied_at for notice in written]),
        },
    )
    buyers = {notice.buyer_id for notice in pending}
    status = _proceedings_read(buyers)
    applied.buyers_moved = _buyers_update(status)
    opened = {
        notice.buyer_id
        for notice in new_judgments
        if notice.event in OPENINGS
        and status.get(notice.buyer_id, (ProceedingsStatus.NONE, None))[0] != ProceedingsStatus.NONE
    }
    # Alerts first: who is exposed is read before liquidation ends the top-ups.
    applied.alerts += len(
        alerts_raise(
            # An opening the same data already shows closed is history, not news.
            [
                _proceedings_alert(notice)
                for notice in new_judgments
                if notice.event in OPENINGS and notice.buyer_id in opened
            ],
            today=today,
        )
    )
    applied.guarantees_ended = _liquidations_apply(status)
    for chunk in chunks(sorted(opened)):
        applied.requests_held += guarantee_requests_hold(
            buyer_ids=chunk, reason=_("procédure collective ouverte")
        )


def _proceedings_alert(notice: ProceedingsNotice) -> Alert:
    judged_on = notice.judged_on or notice.published_on
    return Alert(
        key=f"proceedings:{notice.judgment_key}"[:120],
        buyer_id=notice.buyer_id,
        rule=AlertRule.PROCEEDINGS,
        rules=[AlertRule.PROCEEDINGS.value],
        occurred_on=judged_on,
        notice=notice,
        data={
            "event": notice.event,
            "nature": notice.nature,
            "judged_on": judged_on.isoformat(),
            "court": notice.court,
        },
    )


def _target(
    notice: ProceedingsNotice, index: dict[str, ProceedingsNotice]
) -> ProceedingsNotice | None:
    if notice.kind == NoticeKind.INITIAL:
        return None
    target = index.get(notice.previous_key) if notice.previous_key else None
    if target is None and notice.previous_date_key:
        target = index.get(notice.previous_date_key)
    return target if target is not notice else None


def _proceedings_read(buyers: set[UUID]) -> dict[UUID, tuple[str, date | None]]:
    """Each buyer's proceedings from its judgments in force, in date order, and the date of the
    judgment that set them."""
    status: dict[UUID, tuple[str, date | None]] = dict.fromkeys(
        buyers, (ProceedingsStatus.NONE, None)
    )
    ordered = sorted(buyers)
    for chunk in chunks(ordered):
        rows = (
            ProceedingsNotice.objects.filter(buyer_id__any=chunk, state=NoticeState.ACTIVE)
            .exclude(event="")
            .exclude(kind=NoticeKind.CANCELLATION)  # it withdraws a judgment, is not one
            .order_by("buyer_id", "judged_on", "published_on", "id")
            .values_list("buyer_id", "event", "judged_on")
        )
        for buyer_id, event, judged_on in rows:
            if event in STATUS_OF_OPENING:
                status[buyer_id] = (STATUS_OF_OPENING[JudgmentEvent(event)], judged_on)
            elif event == JudgmentEvent.CLOSURE:
                status[buyer_id] = (ProceedingsStatus.NONE, judged_on)
    return status


def _buyers_update(status: dict[UUID, tuple[str, date | None]]) -> int:
    """Write each buyer's proceedings; returns how many buyers moved."""
    buyers = list(status)
    return rows_update(
        Buyer,
        buyers,
        {"proceedings": ("text", [status[buyer][0] for buyer in buyers])},
        only_changed=True,
    )


def _liquidations_apply(status: dict[UUID, tuple[str, date | None]]) -> int:
    """End the top-ups on each buyer in liquidation from the judgment date, set-based."""
    return guarantees_end_on_liquidations(
        judgments={
            buyer_id: on
            for buyer_id, (state, on) in status.items()
            if state == ProceedingsStatus.LIQUIDATION and on is not None
        },
        actor=None,
    )


# --- grades -------------------------------------------------------------------------------


def _apply_grades(applied: Applied) -> list[Alert]:
    pending = list(
        GradeChange.objects.filter(applied_at__isnull=True).order_by(
            "buyer_id", "effective_on", "id"
        )
    )
    if not pending:
        return []
    by_buyer: dict[UUID, list[GradeChange]] = defaultdict(list)
    for change in pending:
        by_buyer[change.buyer_id].append(change)
    latest: dict[UUID, date] = {}
    for chunk in chunks(sorted(by_buyer)):
        latest.update(
            GradeChange.objects.filter(buyer_id__any=chunk, applied_at__isnull=False)
            .order_by("buyer_id", "-effective_on", "-id")
            .distinct("buyer_id")
            .values_list("buyer_id", "effective_on")
        )
    now = timezone.now()
    alerts: list[Alert] = []
    moved: list[Buyer] = []
    for chunk in chunks(sorted(by_buyer)):
        for buyer in Buyer.objects.filter(pk__any=chunk).only("pk", "grade"):
            previous = buyer.grade
            since = latest.get(buyer.pk)
            for change in by_buyer[buyer.pk]:
                change.applied_at = now
                applied.grades += 1
                if since is not None and change.effective_on <= since:
                    continue  # history filled in: not news
                change.previous_grade = previous
                rules = _grade_rules(previous, change.grade)
                if rules:
                    alerts.append(_grade_alert(change, previous, rules))
                previous = change.grade
            if previous != buyer.grade:
                buyer.grade = previous
                moved.append(buyer)
    rows_update(
        GradeChange,
        [change.pk for change in pending],
        {
            "previous_grade": ("smallint", [change.previous_grade for change in pending]),
            "applied_at": ("timestamptz", [change.applied_at for change in pending]),
        },
    )
    rows_update(
        Buyer, [buyer.pk for buyer in moved], {"grade": ("smallint", [b.grade for b in moved])}
    )
    applied.buyers_moved += len(moved)
    return alerts


def _grade_rules(previous: int, grade: int) -> list[str]:
    rules = []
    if grade <= 3 < previous:
        rules.append(AlertRule.GRADE_LOW.value)
    if previous - grade >= 2:
        rules.append(AlertRule.GRADE_FALL.value)
    return rules


def _grade_alert(change: GradeChange, previous: int, rules: list[str]) -> Alert:
    return Alert(
        key=f"grade:{change.buyer_id}:{change.effective_on.isoformat()}:{change.grade}",
        buyer_id=change.buyer_id,
        rule=rules[0],
        rules=rules,
        occurred_on=change.effective_on,
        grade_change=change,
        data={"from": previous, "to": change.grade, "source": change.source},
    )

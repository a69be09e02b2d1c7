"""Keep what a provider delivered, once: a notice by its key, a grade change by (buyer, date,
source, grade). Records on buyers outside the registry are counted, never kept: a notice never
creates a buyer. A building block: runs in its caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from monitoring.bodacc import Notice
from monitoring.grades import GradeChange as GradeRecord
from monitoring.models import GradeChange, HealthFile, ProceedingsNotice
from monitoring.providers import ProviderBatch
from portal.bulk import chunks
from underwriting.models import Buyer

CHUNK = 5_000


@dataclass
class Stored:
    records: int = 0
    new: int = 0
    unknown_buyers: int = 0

    def add(self, other: Stored) -> None:
        self.records += other.records
        self.new += other.new
        self.unknown_buyers += other.unknown_buyers


def _buyer_ids(sirens: Iterable[str]) -> dict[str, UUID]:
    wanted = sorted(set(sirens))
    found: dict[str, UUID] = {}
    for chunk in chunks(wanted, 10_000):
        for siren, buyer_id in Buyer.objects.filter(siren__any=chunk).values_list("siren", "id"):
            if siren is not None:
                found[siren] = buyer_id
    return found


def date_key(publication: str, published_on: object, number: str) -> str:
    return f"{publication}-{published_on}-{number}"


def _notice_row(
    notice: Notice, buyer_id: UUID, provider: str, file: HealthFile | None, at: datetime
) -> ProceedingsNotice:
    judgment = notice.judgment
    return ProceedingsNotice(
        key=notice.key[:80],
        buyer_id=buyer_id,
        kind=notice.kind.value,
        publication=notice.ref.publication[:10],
        issue=(notice.ref.issue or "")[:20],
        number=notice.ref.number[:20],
        published_on=notice.published_on,
        event=judgment.event.value if judgment else "",
        judged_on=judgment.judged_on if judgment else None,
        nature=judgment.nature_text if judgment else "",
        court=notice.court[:200],
        judgment_key=(notice.judgment_key or "")[:60],
        previous_key=(notice.previous.key if notice.previous else "")[:80],
        previous_date_key=(
            date_key(
                notice.previous.publication, notice.previous.published_on, notice.previous.number
            )
            if notice.previous and notice.previous.published_on
            else ""
        )[:80],
        date_key=date_key(notice.ref.publication, notice.published_on, notice.ref.number)[:80],
        provider=provider,
        file=file,
        received_at=at,
    )


def notices_store(
    notices: Sequence[Notice],
    *,
    provider: str,
    file: HealthFile | None,
    at: datetime,
    progress: Callable[[int], None] | None = None,
) -> Stored:
    stored = Stored()
    for chunk in chunks(notices, CHUNK):
        buyers = _buyer_ids(notice.siren for notice in chunk)
        rows: dict[str, ProceedingsNotice] = {}
        for notice in chunk:
            buyer_id = buyers.get(notice.siren)
            if buyer_id is None:
                stored.unknown_buyers += 1
                continue
            stored.records += 1
            rows.setdefault(notice.key[:80], _notice_row(notice, buyer_id, provider, file, at))
        known = set(
            ProceedingsNotice.objects.filter(key__any=list(rows)).values_list("key", flat=True)
        )
        new = [row for key, row in rows.items() if key not in known]
        ProceedingsNotice.objects.bulk_create(new, ignore_conflicts=True)
        stored.new += len(new)
        if progress is not None:
            progress(len(chunk))
    return stored


def grades_store(
    changes: Sequence[GradeRecord],
    *,
    provider: str,
    file: HealthFile | None,
    at: datetime,
    progress: Callable[[int], None] | None = None,
) -> Stored:
    stored = Stored()
    for chunk in chunks(changes, CHUNK):
        buyers = _buyer_ids(change.siren for change in chunk)
        rows: dict[tuple[UUID, object, str, int], GradeChange] = {}
        for change in chunk:
            buyer_id = buyers.get(change.siren)
            if buyer_id is None:
                stored.unknown_buyers += 1
                continue
            stored.records += 1
            source = change.source[:60]
            rows.setdefault(
                (buyer_id, change.effective_on, source, change.grade),
                GradeChange(
                    buyer_id=buyer_id,
                    grade=change.grade,
                    effective_on=change.effective_on,
                    source=source,
                    provider=provider,
                    file=file,
                    received_at=at,
                ),
            )
        known = set(
            GradeChange.objects.filter(buyer_id__any={key[0] for key in rows}).values_list(
                "buyer_id", "effective_on", "source", "grade"
            )
        )
        new = [row for key, row in rows.items() if key not in known]
        GradeChange.objects.bulk_create(new, ignore_conflicts=True)
        stored.new += len(new)
        if progress is not None:
            progress(len(chunk))
    return stored


def batch_store(
    batch: ProviderBatch,
    *,
    provider: str,
    file: HealthFile | None,
    at: datetime,
    progress: Callable[[int], None] | None = None,
) -> Stored:
    """Keep a provider's batch; returns what was kept, new, and on unknown buyers."""
    stored = notices_store(batch.notices, provider=provider, file=file, at=at, progress=progress)
    stored.add(
        grades_store(batch.grade_changes, provider=provider, file=file, at=at, progress=progress)
    )
    return stored

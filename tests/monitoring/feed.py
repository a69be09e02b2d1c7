"""A second buyer-health provider, as a commercial feed would be plugged in: it hands over
notices and grade changes it built itself, through the same `BuyerHealthProvider` interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from monitoring.bodacc import Judgment, JudgmentEvent, Notice, NoticeKind, NoticeRef
from monitoring.grades import GradeChange
from monitoring.providers import ProviderBatch


@dataclass
class CommercialFeed:
    """Everything it holds is dated; `fetch(since)` gives what arrived after `since`."""

    name: str = "flux-commercial"
    items: list[tuple[datetime, Notice | GradeChange]] = field(default_factory=list)
    calls: list[datetime | None] = field(default_factory=list)

    def opening(self, siren: str | None, *, number: str, judged_on: date, at: datetime) -> None:
        assert siren is not None
        ref = NoticeRef(publication="X", issue="feed", published_on=judged_on, number=number)
        judgment = Judgment(
            family="Jugement d'ouverture",
            nature_text="Jugement d'ouverture d'une procédure de redressement judiciaire",
            event=JudgmentEvent.RECEIVERSHIP,
            judged_on=judged_on,
        )
        notice = Notice(
            line=0,
            ref=ref,
            kind=NoticeKind.INITIAL,
            published_on=judged_on,
            siren=siren,
            merchant="",
            court="Tribunal de commerce de Paris",
            judgment=judgment,
            previous=None,
        )
        self.items.append((at, notice))

    def grade(self, siren: str | None, *, grade: int, on: date, at: datetime) -> None:
        assert siren is not None
        self.items.append(
            (at, GradeChange(line=0, siren=siren, effective_on=on, grade=grade, source=self.name))
        )

    def fetch(self, since: datetime | None = None) -> ProviderBatch:
        self.calls.append(since)
        chosen = [item for at, item in self.items if since is None or at > since]
        return ProviderBatch(
            notices=tuple(item for item in chosen if isinstance(item, Notice)),
            grade_changes=tuple(item for item in chosen if isinstance(item, GradeChange)),
        )


# The instance `MONITORING_PROVIDERS` names in the tests (a dotted path to a class or factory).
SHARED = CommercialFeed()


def shared_feed() -> CommercialFeed:
    return SHARED


def at(day: int) -> datetime:
    return datetime(2026, 11, day, 6, 0, tzinfo=UTC)

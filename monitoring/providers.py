"""Where buyer-health data comes from (issue 9, "Data in"): one interface, so a commercial feed
can be plugged in later, and the built-in provider that reads files given to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from monitoring.bodacc import Notice, read_bodacc
from monitoring.common import DEFAULT_LIMITS, Problem, ReadLimits
from monitoring.grades import GradeChange, read_grades


class FileKind(StrEnum):
    BODACC = "bodacc"
    GRADES = "grades"


@dataclass(frozen=True)
class FileReport:
    """What one file gave: counts, and the lines skipped with their reason."""

    name: str
    kind: FileKind
    received_at: datetime
    records: int
    ignored: int
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ProviderBatch:
    notices: tuple[Notice, ...] = ()
    grade_changes: tuple[GradeChange, ...] = ()
    files: tuple[FileReport, ...] = ()


@runtime_checkable
class BuyerHealthProvider(Protocol):
    """A source of buyer-health data. `fetch(since)` returns what the provider received after
    `since` (everything when None); calling it twice returns the same data again, so whoever
    applies it must be idempotent (keys: `Notice.key`, `Notice.judgment_key`)."""

    @property
    def name(self) -> str: ...

    def fetch(self, since: datetime | None = None) -> ProviderBatch: ...


def _now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True)
class _Received:
    report: FileReport
    notices: tuple[Notice, ...]
    grade_changes: tuple[GradeChange, ...]


@dataclass
class FileProvider:
    """The built-in provider: files handed to it (a management command, a back-office page, an
    API endpoint). Each file is read when given, so a file that cannot be read at all raises
    `FileRefused` to whoever gave it and is not kept."""

    name: str = "fichiers"
    limits: ReadLimits = DEFAULT_LIMITS
    clock: Callable[[], datetime] = _now
    _received: list[_Received] = field(default_factory=list, init=False, repr=False)

    def add_bodacc(
        self, filename: str, content: bytes, *, received_at: datetime | None = None
    ) -> FileReport:
        result = read_bodacc(content, limits=self.limits)
        report = FileReport(
            name=filename,
            kind=FileKind.BODACC,
            received_at=received_at or self.clock(),
            records=len(result.records),
            ignored=result.ignored,
            problems=result.problems,
        )
        self._received.append(_Received(report, result.records, ()))
        return report

    def add_grades(
        self, filename: str, content: bytes, *, received_at: datetime | None = None
    ) -> FileReport:
        result = read_grades(content, limits=self.limits)
        report = FileReport(
            name=filename,
            kind=FileKind.GRADES,
            received_at=received_at or self.clock(),
            records=len(result.records),
            ignored=result.ignored,
            problems=result.problems,
        )
        self._received.append(_Received(report, (), result.records))
        return report

    def fetch(self, since: datetime | None = None) -> ProviderBatch:
        chosen = [
            received
            for received in self._received
            if since is None or received.report.received_at > since
        ]
        return ProviderBatch(
            notices=tuple(notice for received in chosen for notice in received.notices),
            grade_changes=tuple(change for received in chosen for change in received.grade_changes),
            files=tuple(received.report for received in chosen),
        )

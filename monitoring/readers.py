"""The file-reading core of buyer-health monitoring, in one import: BODACC
collective-proceedings notices, grade changes, and the provider interface. Pure: no model, no
database; `monitoring/services/` stores and applies what is read."""

from __future__ import annotations

from monitoring.bodacc import (
    Judgment,
    JudgmentEvent,
    Notice,
    NoticeKind,
    NoticeRef,
    judgment_event,
    read_bodacc,
)
from monitoring.common import (
    DEFAULT_LIMITS,
    FileRefused,
    Problem,
    ReadLimits,
    ReadResult,
    parse_date,
    siren_or_none,
)
from monitoring.grades import GradeChange, read_grades
from monitoring.providers import (
    BuyerHealthProvider,
    FileKind,
    FileProvider,
    FileReport,
    ProviderBatch,
)

__all__ = [
    "DEFAULT_LIMITS",
    "BuyerHealthProvider",
    "FileKind",
    "FileProvider",
    "FileRefused",
    "FileReport",
    "GradeChange",
    "Judgment",
    "JudgmentEvent",
    "Notice",
    "NoticeKind",
    "NoticeRef",
    "Problem",
    "ProviderBatch",
    "ReadLimits",
    "ReadResult",
    "judgment_event",
    "parse_date",
    "read_bodacc",
    "read_grades",
    "siren_or_none",
]

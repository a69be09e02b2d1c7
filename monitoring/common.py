"""What the monitoring readers share: line problems, results, size limits, and the reading of
SIRENs and dates as French files write them. Pure: no model, no database."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

from django.utils.translation import gettext as _
from stdnum.fr import siren as stdnum_siren

from portal.errors import RuleViolation

MB = 1024 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class ReadLimits:
    max_bytes: int = 50 * MB
    max_lines: int = 500_000


DEFAULT_LIMITS = ReadLimits()


class FileRefused(RuleViolation):
    """The whole file cannot be read (too large, too many lines, wrong encoding, no header):
    nothing from it is returned. `code` says why, the message (French) says how to fix it."""

    default_code = "file_refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, field="file", code=reason)


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that was skipped: the file's line number (1 is the first line; for a CSV record
    spread over several lines, the line where it starts) and the reason, in French."""

    line: int
    reason: str


@dataclass(frozen=True)
class ReadResult(Generic[T]):
    """What a reader returns: the good records in file order, the skipped ones, and the count of
    records deliberately left aside (BODACC notices of another family than `collective`)."""

    records: tuple[T, ...]
    problems: tuple[Problem, ...] = ()
    ignored: int = 0
    ignored_families: dict[str, int] = field(default_factory=dict)

    @property
    def read(self) -> int:
        """Records seen: kept, skipped for a problem, or ignored."""
        return len(self.records) + len(self.problems) + self.ignored


class RecordError(ValueError):
    """Raised inside a reader for one record; becomes a Problem with the record's line."""


def check_size(content: bytes, limits: ReadLimits) -> None:
    if len(content) > limits.max_bytes:
        raise FileRefused(
            _("Le fichier pèse %(size)s Mo : la limite est %(limit)s Mo. Découpez-le en plusieurs.")
            % {"size": _megabytes(len(content)), "limit": _megabytes(limits.max_bytes)},
            reason="too_large",
        )
    lines = content.count(b"\n") + (0 if content.endswith(b"\n") else 1)
    if lines > limits.max_lines:
        raise FileRefused(
            _(
                "Le fichier compte %(lines)s lignes : la limite est %(limit)s. "
                "Découpez-le en plusieurs."
            )
            % {"lines": lines, "limit": limits.max_lines},
            reason="too_many_lines",
        )


def decode(content: bytes) -> str:
    """UTF-8, with or without a byte-order mark."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRefused(
            _(
                "Le fichier n'est pas en UTF-8 (octet illisible en position %(position)s) : "
                "enregistrez-le en UTF-8."
            )
            % {"position": error.start},
            reason="encoding",
        ) from error


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f}".replace(".", ",")


def fold(text: str) -> str:
    """Lower case, no accents, typographic apostrophes made plain, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'").replace("\u00a0", " "))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.lower().split())


def siren_or_none(text: str) -> str | None:
    """The 9-digit SIREN written in `text` ("123 456 789", "123456789"), or None if invalid."""
    compact = stdnum_siren.compact(text)
    return compact if stdnum_siren.is_valid(compact) else None


def first_siren(candidates: Sequence[str]) -> str:
    """The first valid SIREN among the candidates. Raises RecordError in French."""
    written = [candidate.strip() for candidate in candidates if candidate and candidate.strip()]
    if not written:
        raise RecordError(_("SIREN manquant."))
    for candidate in written:
        found = siren_or_none(candidate)
        if found:
            return found
    raise RecordError(_("SIREN invalide : « %(value)s ».") % {"value": written[0]})


_MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
}
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?")
_SLASHED = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")
_WORDS = re.compile(r"(\d{1,2})(?:er)? ([a-z]+) (\d{4})")


def parse_date(text: str | None) -> date | None:
    """A date written 2026-11-28, 28/11/2026 or « 28 novembre 2026 » (« 1er » too); None if
    absent or unreadable."""
    if not text:
        return None
    folded = fold(text)
    parts: tuple[int, int, int] | None = None
    if match := _ISO.fullmatch(folded):
        parts = (int(match[1]), int(match[2]), int(match[3]))
    elif match := _SLASHED.fullmatch(folded):
        parts = (int(match[3]), int(match[2]), int(match[1]))
    elif (match := _WORDS.fullmatch(folded)) and match[2] in _MONTHS:
        parts = (int(match[3]), _MONTHS[match[2]], int(match[1]))
    if parts is None:
        return None
    try:
        return date(*parts)
    except ValueError:
        return None


def required_date(text: str | None, *, label: str) -> date:
    """`parse_date`, or RecordError naming the field (`label`, in French)."""
    if not text or not text.strip():
        raise RecordError(_("%(label)s manquante.") % {"label": label})
    found = parse_date(text)
    if found is None:
        raise RecordError(
            _("%(label)s illisible : « %(value)s » (attendu AAAA-MM-JJ ou JJ/MM/AAAA).")
            % {"label": label, "value": text.strip()}
        )
    return found

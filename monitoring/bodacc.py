"""BODACC collective-proceedings notices as the French open data publishes them (dataset
`annonces-commerciales`), exported as JSON lines or as CSV with `;` (issue 9, "Data in").

Each notice names its buyer (`registre`, the SIREN), the judgment (`jugement`, a JSON document
inside a string) and, for a rectification or a cancellation, the earlier notice it corrects or
withdraws (`parutionavisprecedent`, another JSON document inside a string). The reader only reads:
applying "a rectification replaces the notice it corrects, a cancellation withdraws it, the same
judgment counts once" is the caller's job, with `Notice.key`, `Notice.previous.key` and
`Notice.judgment_key`."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext as _

from monitoring.common import (
    DEFAULT_LIMITS,
    FileRefused,
    Problem,
    ReadLimits,
    ReadResult,
    RecordError,
    check_size,
    decode,
    first_siren,
    fold,
    parse_date,
    required_date,
)

COLLECTIVE = "collective"


class NoticeKind(StrEnum):
    INITIAL = "initial"
    RECTIFICATION = "rectification"
    CANCELLATION = "cancellation"


_KINDS = {
    "annonce": NoticeKind.INITIAL,
    "initial": NoticeKind.INITIAL,
    "rectificatif": NoticeKind.RECTIFICATION,
    "rectification": NoticeKind.RECTIFICATION,
    "annulation": NoticeKind.CANCELLATION,
    "cancellation": NoticeKind.CANCELLATION,
}


class JudgmentEvent(StrEnum):
    SAFEGUARD = "safeguard"
    RECEIVERSHIP = "receivership"
    LIQUIDATION = "liquidation"
    PLAN = "plan"
    CLOSURE = "closure"
    OTHER = "other"

    @property
    def opens_proceedings(self) -> bool:
        return self in (
            JudgmentEvent.SAFEGUARD,
            JudgmentEvent.RECEIVERSHIP,
            JudgmentEvent.LIQUIDATION,
        )


_OPENINGS = frozenset(
    {JudgmentEvent.SAFEGUARD, JudgmentEvent.RECEIVERSHIP, JudgmentEvent.LIQUIDATION}
)

# Read on the folded text (lower case, no accents). Order matters: a closure of a liquidation is
# a closure; "résolution du plan ... et la liquidation" is a liquidation; a plan de cession arrêté
# within a liquidation is a plan; a conversion of safeguard into receivership is a receivership.
_LIQUIDATION_PRONOUNCED = re.compile(
    r"(prononc\w*|conversion en|ouverture|resolution du plan)\b.*\bliquidation"
)
_PLAN = re.compile(
    r"plan de (sauvegarde|redressement|cession|continuation)|arret\w* (du |le )?plan"
)
_RECEIVERSHIP_CONVERSION = re.compile(r"conversion\b.*\ben redressement")


def judgment_event(nature: str) -> JudgmentEvent:
    """The kind of event a judgment's `nature` (French free text) records."""
    text = fold(nature)
    if "cloture" in text:
        return JudgmentEvent.CLOSURE
    if _LIQUIDATION_PRONOUNCED.search(text):
        return JudgmentEvent.LIQUIDATION
    if _PLAN.search(text):
        return JudgmentEvent.PLAN
    if _RECEIVERSHIP_CONVERSION.search(text):
        return JudgmentEvent.RECEIVERSHIP
    if "liquidation judiciaire" in text:
        return JudgmentEvent.LIQUIDATION
    if "ouverture" in text and "sauvegarde" in text:
        return JudgmentEvent.SAFEGUARD
    if "ouverture" in text and "redressement judiciaire" in text:
        return JudgmentEvent.RECEIVERSHIP
    return JudgmentEvent.OTHER


@dataclass(frozen=True, slots=True)
class Judgment:
    family: str
    nature_text: str
    event: JudgmentEvent
    judged_on: date


@dataclass(frozen=True, slots=True)
class NoticeRef:
    """One BODACC notice: publication ("A" for BODACC A), issue number (`numeroparution`, e.g.
    "20260231"), publication date and notice number in that issue. Two refs name the same notice
    when their `key` is equal."""

    publication: str
    issue: str | None
    published_on: date | None
    number: str

    @property
    def key(self) -> str:
        """ "A-20260231-1234"; by date ("A-2026-11-28-1234") when the issue number is unknown."""
        middle = self.issue or (self.published_on.isoformat() if self.published_on else "")
        return f"{self.publication}-{middle}-{self.number}"

    def matches(self, other: NoticeRef) -> bool:
        """Same notice, also when one side knows only the issue number and the other only the
        date (the key then differs): the issue numbers decide when both are known."""
        if (self.publication, self.number) != (other.publication, other.number):
            return False
        if self.issue and other.issue:
            return self.issue == other.issue
        return self.published_on is not None and self.published_on == other.published_on


@dataclass(frozen=True, slots=True)
class Notice:
    """A collective-proceedings notice. `judgment` is None only for a cancellation that does not
    repeat the judgment; `previous` is set for rectifications and cancellations only."""

    line: int
    ref: NoticeRef
    kind: NoticeKind
    published_on: date
    siren: str
    merchant: str
    court: str
    judgment: Judgment | None
    previous: NoticeRef | None
    record_id: str = ""

    @property
    def key(self) -> str:
        return self.ref.key

    @property
    def judgment_key(self) -> str | None:
        """siren:event:judged_on — the same judgment published twice (or in two files) has the
        same key."""
        if self.judgment is None:
            return None
        return f"{self.siren}:{self.judgment.event}:{self.judgment.judged_on.isoformat()}"


def read_bodacc(content: bytes, *, limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult[Notice]:
    """Read a BODACC export, JSON lines or CSV (`;`), recognised by its content. Raises
    FileRefused for a file that cannot be read at all; a bad record becomes a Problem."""
    check_size(content, limits)
    text = decode(content)
    start = text.lstrip()
    if not start:
        raise FileRefused(_("Le fichier est vide."), reason="empty")
    if start.startswith("["):
        raise FileRefused(
            _(
                "Ce fichier est un tableau JSON : exportez le jeu « annonces-commerciales » au "
                "format JSON lines (un objet par ligne) ou CSV."
            ),
            reason="json_array",
        )
    rows = _json_lines(text) if start.startswith("{") else _csv_rows(text)
    records: list[Notice] = []
    problems: list[Problem] = []
    ignored: Counter[str] = Counter()
    for line, row in rows:
        if isinstance(row, Problem):
            problems.append(row)
            continue
        family = _text(row.get("familleavis"))
        if family.lower() != COLLECTIVE:
            ignored[family or "?"] += 1
            continue
        try:
            records.append(_notice(line, row))
        except RecordError as error:
            problems.append(Problem(line, str(error)))
    return ReadResult(
        records=tuple(records),
        problems=tuple(problems),
        ignored=sum(ignored.values()),
        ignored_families=dict(ignored),
    )


Row = Mapping[str, Any]


def _json_lines(text: str) -> Iterator[tuple[int, Row | Problem]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            yield number, Problem(number, _("Ligne JSON illisible."))
            continue
        if not isinstance(row, dict):
            yield number, Problem(number, _("La ligne n'est pas un objet JSON."))
            continue
        yield number, row


def _csv_rows(text: str) -> Iterator[tuple[int, Row | Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header: list[str] | None = None
    end = 0
    for cells in reader:
        start, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in cells]
            if "familleavis" not in header:
                raise FileRefused(
                    _(
                        "Aucune colonne « familleavis » en ligne %(line)s : ce n'est pas un "
                        "export BODACC (JSON lines ou CSV séparé par des points-virgules)."
                    )
                    % {"line": start},
                    reason="no_header",
                )
            continue
        if len(cells) > len(header):
            yield (
                start,
                Problem(
                    start,
                    _("%(found)s colonnes au lieu de %(expected)s.")
                    % {"found": len(cells), "expected": len(header)},
                ),
            )
            continue
        yield start, dict(zip(header, cells, strict=False))


def _text(value: object) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _embedded(row: Row, field: str) -> Mapping[str, Any] | None:
    """A JSON document inside a string (already a JSON object in some exports)."""
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dict):
        return value
    try:
        document = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise RecordError(
            _("Le champ « %(field)s » n'est pas un document JSON lisible.") % {"field": field}
        )
    return document


def _registre(value: object) -> list[str]:
    if isinstance(value, list):
        return [_text(item) for item in value]
    text = _text(value)
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            return [_text(item) for item in items]
    return text.split(",")


def _publication(text: str) -> str:
    """ "BODACC A", "A", "Bodacc-A" -> "A"."""
    folded = fold(text).replace("bodacc", "").strip(" -_")
    return folded.upper() or "A"


_ID = re.compile(r"([ABC])(\d{8})(\d+)")


def _number(value: object) -> str:
    text = _text(value)
    return text.lstrip("0") or text


def _own_ref(row: Row, published_on: date) -> NoticeRef:
    record_id = _text(row.get("id"))
    from_id = _ID.fullmatch(record_id)
    publication = _text(row.get("publicationavis")) or (from_id[1] if from_id else "A")
    issue = _text(row.get("numeroparution") or row.get("parution")) or (
        from_id[2] if from_id else ""
    )
    number = _number(row.get("numeroannonce")) or (_number(from_id[3]) if from_id else "")
    if not number:
        raise RecordError(_("Numéro d'annonce manquant (ni « numeroannonce » ni « id » lisible)."))
    return NoticeRef(
        publication=_publication(publication),
        issue=issue.lstrip("0") or None,
        published_on=published_on,
        number=number,
    )


def _previous_ref(row: Row) -> NoticeRef:
    document = _embedded(row, "parutionavisprecedent")
    if document is None:
        raise RecordError(
            _("« parutionavisprecedent » manquant : impossible de savoir quelle annonce est visée.")
        )
    number = _number(document.get("numeroAnnonce"))
    issue = _text(document.get("numeroParution")).lstrip("0") or None
    published_on = parse_date(_text(document.get("dateParution")))
    if not number or (issue is None and published_on is None):
        raise RecordError(
            _(
                "« parutionavisprecedent » incomplet : il faut le numéro d'annonce et le numéro "
                "ou la date de parution."
            )
        )
    return NoticeRef(
        publication=_publication(_text(document.get("nomPublication"))),
        issue=issue,
        published_on=published_on,
        number=number,
    )


def _judgment(row: Row) -> Judgment | None:
    document = _embedded(row, "jugement")
    if document is None:
        return None
    nature = _text(document.get("nature"))
    return Judgment(
        family=_text(document.get("famille")),
        nature_text=nature,
        event=judgment_event(nature),
        judged_on=required_date(_text(document.get("date")), label=_("Date du jugement")),
    )


def _notice(line: int, row: Row) -> Notice:
    type_text = _text(row.get("typeavis"))
    kind = _KINDS.get(fold(type_text))
    if kind is None:
        raise RecordError(
            _("Type d'avis inconnu : « %(value)s » (annonce, rectificatif ou annulation).")
            % {"value": type_text}
        )
    published_on = required_date(_text(row.get("dateparution")), label=_("Date de parution"))
    siren = first_siren(_registre(row.get("registre")))
    judgment = _judgment(row)
    if judgment is None and kind is not NoticeKind.CANCELLATION:
        raise RecordError(_("Jugement manquant."))
    previous = None if kind is NoticeKind.INITIAL else _previous_ref(row)
    return Notice(
        line=line,
        ref=_own_ref(row, published_on),
        kind=kind,
        published_on=published_on,
        siren=siren,
        merchant=_text(row.get("commercant")),
        court=_text(row.get("tribunal")),
        judgment=judgment,
        previous=previous,
        record_id=_text(row.get("id")),
    )

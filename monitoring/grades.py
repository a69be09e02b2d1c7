"""Grade changes as CSV (issue 9, "Data in"): SIREN, date, grade 0–10 (10 is best), source.
Separator `,` or `;`; headers in French or English, any case."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

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
    required_date,
)

MIN_GRADE = 0
MAX_GRADE = 10


@dataclass(frozen=True, slots=True)
class GradeChange:
    line: int
    siren: str
    effective_on: date
    grade: int
    source: str


# Folded header text -> field.
_HEADERS = {
    "siren": "siren",
    "date": "date",
    "date d'effet": "date",
    "date effet": "date",
    "effective date": "date",
    "note": "grade",
    "grade": "grade",
    "source": "source",
    "fournisseur": "source",
    "provider": "source",
}
_REQUIRED = ("siren", "date", "grade", "source")


def read_grades(content: bytes, *, limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult[GradeChange]:
    """Read a grade CSV. Raises FileRefused when the file or its header cannot be read; a bad
    line becomes a Problem."""
    check_size(content, limits)
    text = decode(content)
    first_line = next((line for line in text.splitlines() if line.strip()), None)
    if first_line is None:
        raise FileRefused(_("Le fichier est vide."), reason="empty")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: dict[str, int] | None = None
    records: list[GradeChange] = []
    problems: list[Problem] = []
    end = 0
    for cells in reader:
        start, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns = _columns(cells, line=start)
            continue
        try:
            records.append(_grade_change(start, cells, columns))
        except RecordError as error:
            problems.append(Problem(start, str(error)))
    return ReadResult(records=tuple(records), problems=tuple(problems))


def _columns(cells: list[str], *, line: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field = _HEADERS.get(fold(cell))
        if field and field not in columns:
            columns[field] = index
    missing = [field for field in _REQUIRED if field not in columns]
    if missing:
        raise FileRefused(
            _(
                "En-tête de la ligne %(line)s incomplet : il manque %(missing)s. Colonnes "
                "attendues : siren, date (ou « date d'effet »), note (ou grade), source (ou "
                "fournisseur)."
            )
            % {"line": line, "missing": ", ".join(missing)},
            reason="no_header",
        )
    return columns


def _cell(cells: list[str], columns: dict[str, int], field: str) -> str:
    index = columns[field]
    return cells[index].strip() if index < len(cells) else ""


def _grade(text: str) -> int:
    if not text:
        raise RecordError(_("Note manquante."))
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value != value.to_integral_value():
        raise RecordError(
            _("Note illisible : « %(value)s » (un entier de 0 à 10 est attendu).") % {"value": text}
        )
    if not MIN_GRADE <= value <= MAX_GRADE:
        raise RecordError(
            _("Note hors bornes : %(value)s (de 0 à 10, 10 étant la meilleure).") % {"value": text}
        )
    return int(value)


def _grade_change(line: int, cells: list[str], columns: dict[str, int]) -> GradeChange:
    siren = first_siren([_cell(cells, columns, "siren")])
    effective_on = required_date(_cell(cells, columns, "date"), label=_("Date d'effet"))
    grade = _grade(_cell(cells, columns, "grade"))
    source = _cell(cells, columns, "source")
    if not source:
        raise RecordError(_("Source manquante."))
    return GradeChange(
        line=line, siren=siren, effective_on=effective_on, grade=grade, source=source
    )

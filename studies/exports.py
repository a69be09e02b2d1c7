"""The verdicts of a buyer list, and the empty template, as CSV and XLSX bytes.

The verdicts are written from parse-time `LineVerdict`s; once the file is gone, the stored lines
give them back (`verdicts_from_lines`), for the pages and the API alike. The verdict files use
the template's headers for the buyer's cells, so a user can correct the export and upload it
again. Every text cell is made safe against spreadsheet formula injection: in CSV a leading `'`,
in XLSX a string cell (never a formula) with Excel's quote prefix."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from portal.errors import RuleViolation
from studies.columns import AMOUNTS, FORMULA_STARTS, Column, column_of
from studies.models import LineVerdict as StoredVerdict
from studies.models import StudyLine
from studies.parsing import BuyerLine
from studies.verdicts import LineError, LineVerdict, Problem
from underwriting.identifiers import parse_company_id

AMOUNT_FORMAT = "#,##0.00"

Value = str | Decimal | int


def spreadsheet_safe(text: str) -> str:
    """For CSV: a cell a spreadsheet would run as a formula gets a leading `'`."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def french_decimal(amount: Decimal) -> str:
    """40000.5 → "40000,50": no grouping, so a French spreadsheet reads it as a number."""
    return f"{amount:.2f}".replace(".", ",")


# ------------------------------------------------------------------ verdicts from stored lines


@dataclass(frozen=True, slots=True)
class StoredLineError(LineError):
    """A line error as the analysis stored it (`studies.services.lists`): its message was
    composed then and is kept whole."""

    stored_message: str = ""

    @property
    def message(self) -> str:
        return self.stored_message


def _stored_column(stored: dict[str, object]) -> Column:
    # Rows stored before `column_key` only have the user's header: read it as a header again.
    try:
        return Column(str(stored.get("column_key", "")))
    except ValueError:
        return column_of(str(stored.get("column", ""))) or Column.IDENTIFIER


def _stored_error(line: StudyLine, stored: dict[str, object]) -> StoredLineError:
    try:
        problem = Problem(str(stored.get("problem", "")))
    except ValueError:
        problem = Problem.IDENTIFIER_INVALID
    return StoredLineError(
        line=line.line_number,
        column=_stored_column(stored),
        header=str(stored.get("column", "")),
        value=str(stored.get("value", "")),
        problem=problem,
        reason=str(stored.get("reason", "")),
        fix=str(stored.get("fix", "")),
        stored_message=str(stored.get("message", "")),
    )


def _refused_without_error(line: StudyLine) -> StoredLineError:
    """Refused after the check (no buyer could be recorded): the file says so, not "accepted"."""
    return StoredLineError(
        line=line.line_number,
        column=Column.IDENTIFIER,
        header=Column.IDENTIFIER.label,
        value=line.identifier,
        problem=Problem.IDENTIFIER_INVALID,
        reason="",
        fix="",
        stored_message=_("Ligne %(line)s : refusée.") % {"line": line.line_number},
    )


def _verdict_from_line(line: StudyLine) -> LineVerdict:
    errors = [_stored_error(line, stored) for stored in line.errors or []]
    if line.verdict == StoredVerdict.REFUSED and not errors:
        errors.append(_refused_without_error(line))
    amounts = {
        Column.EXPOSURE: line.exposure,
        Column.PRIMARY: line.primary_amount,
        Column.TOP_UP: line.requested_top_up,
    }
    texts = {
        column: french_decimal(amount) for column, amount in amounts.items() if amount is not None
    }
    for error in errors:
        # A cell that was not a number is known only by the first error that quotes it.
        if error.column in AMOUNTS and amounts[error.column] is None:
            texts.setdefault(error.column, error.value)
    try:
        company = parse_company_id(line.identifier) if line.identifier else None
    except RuleViolation:
        company = None
    return LineVerdict(
        line=BuyerLine(
            number=line.line_number,
            identifier=line.identifier,
            name=line.name,
            exposure_text=texts.get(Column.EXPOSURE, ""),
            primary_text=texts.get(Column.PRIMARY, ""),
            top_up_text=texts.get(Column.TOP_UP, ""),
            exposure=line.exposure,
            primary=line.primary_amount,
            top_up=line.requested_top_up,
        ),
        errors=tuple(errors),
        company=company,
    )


def verdicts_from_lines(lines: Iterable[StudyLine]) -> list[LineVerdict]:
    """The verdicts of stored lines, in their order, as `line_verdicts` gave them at upload: the
    file is not kept, so the cells come from the line's columns and its stored errors."""
    return [_verdict_from_line(line) for line in lines]


# ------------------------------------------------------------------------------------- rows


def _headers() -> list[str]:
    return [
        _("Ligne"),
        _("Verdict"),
        *(column.label for column in Column),
        _("SIREN ou n° TVA retenu"),
        _("Erreurs"),
    ]


def _verdict_rows(verdicts: Iterable[LineVerdict]) -> Iterable[list[Value]]:
    for verdict in verdicts:
        line = verdict.line
        cells: list[Value] = []
        for column in Column:
            amount = line.amount(column)
            # An amount read from the cell is written as a number; anything else as typed.
            cells.append(amount if column in AMOUNTS and amount is not None else line.text(column))
        yield [
            line.number,
            _("Accepté") if verdict.accepted else _("Refusé"),
            *cells,
            verdict.buyer_key or "",
            "\n".join(error.message for error in verdict.errors),
        ]


def _template_rows() -> list[list[Value]]:
    headers: list[Value] = [column.label for column in Column]
    example: list[Value] = [
        "552 100 554",
        _("Exemple Distribution SAS"),
        Decimal("100000.00"),
        Decimal("40000.00"),
        Decimal("40000.00"),
    ]
    return [headers, example]


# ---------------------------------------------------------------------------------------- CSV


def _csv(rows: Iterable[Sequence[Value]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow(
            french_decimal(cell)
            if isinstance(cell, Decimal)
            else str(cell)
            if isinstance(cell, int)
            else spreadsheet_safe(cell)
            for cell in row
        )
    # The BOM makes Excel read UTF-8 instead of guessing Windows-1252.
    return buffer.getvalue().encode("utf-8-sig")


def verdicts_csv(verdicts: Iterable[LineVerdict]) -> bytes:
    return _csv([_headers(), *_verdict_rows(verdicts)])


def template_csv() -> bytes:
    return _csv(_template_rows())


# --------------------------------------------------------------------------------------- XLSX


def xlsx_cell(sheet: WriteOnlyWorksheet, value: Value) -> Cell | None:
    if isinstance(value, Decimal | int):
        cell = WriteOnlyCell(sheet)
        cell.value = value  # openpyxl writes a Decimal as a number, digit for digit
        if isinstance(value, Decimal):
            cell.number_format = AMOUNT_FORMAT
        return cell
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    if not text:
        return None  # an empty cell is not written at all
    cell = WriteOnlyCell(sheet, value=text)
    # openpyxl makes any text starting with "=" a formula: force a string cell, and mark
    # risky ones with the quote prefix so that editing the cell in Excel keeps it text.
    cell.data_type = "s"
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def _xlsx(rows: Iterable[Sequence[Value]], *, title: str, widths: Sequence[int]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title)
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    for row in rows:
        sheet.append([xlsx_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def verdicts_xlsx(verdicts: Iterable[LineVerdict]) -> bytes:
    return _xlsx(
        [_headers(), *_verdict_rows(verdicts)],
        title=_("Verdicts"),
        widths=(8, 10, 22, 32, 16, 18, 18, 20, 90),
    )


def template_xlsx() -> bytes:
    return _xlsx(_template_rows(), title=_("Acheteurs"), widths=(34, 32, 16, 18, 18))

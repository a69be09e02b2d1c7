"""Reading a bank statement (issue 14): a CSV with `,`, `;` or tab, in UTF-8 (with or without
BOM) or Windows-1252, French numbers (`1 234,56`), with a date, an amount (or a credit column)
and a label in which the invoice number (`UP-2026-000123`) is looked for. Nothing here touches
the database; a file that cannot be read raises `FileRefused` and the caller stores nothing."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils.translation import gettext as _

from studies.numbers import parse_amount
from studies.parsing import FileRefused

MAX_BYTES = 2 * 1024 * 1024
MAX_LINES = 10_000
HEADER_SEARCH_ROWS = 10
INVOICE_NUMBER = re.compile(r"\bUP-\d{4}-\d{6}\b", re.IGNORECASE)
_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")


@dataclass(frozen=True)
class StatementLine:
    """One data line: its line number in the file, what was read, and `error` (without the
    line number) when a cell cannot be read."""

    number: int
    received_on: date | None
    amount: Decimal | None
    label: str
    reference: str
    invoice_number: str
    error: str = ""


def _key(cell: str) -> str:
    text = unicodedata.normalize("NFKD", cell).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z]", "", text)


def _column(keys: Sequence[str], *starts: str) -> int | None:
    for start in starts:
        for index, key in enumerate(keys):
            if key.startswith(start):
                return index
    return None


@dataclass(frozen=True)
class _Columns:
    date: int
    amount: int
    label: int
    reference: int | None


def _columns(row: Sequence[str]) -> _Columns | None:
    keys = [_key(cell) for cell in row]
    found = (
        _column(keys, "dateoperation", "datedoperation", "date", "bookingdate", "valuedate"),
        _column(keys, "montant", "amount", "credit"),
        _column(keys, "libelle", "label", "description", "motif", "communication", "reference"),
    )
    if any(index is None for index in found):
        return None
    date_index, amount_index, label_index = (index or 0 for index in found)
    reference = _column(keys, "reference", "ref")
    return _Columns(
        date=date_index,
        amount=amount_index,
        label=label_index,
        reference=None if reference == label_index else reference,
    )


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise FileRefused(
        _("Le fichier n'est pas un relevé CSV lisible : exportez le relevé de la banque en CSV."),
        reason="wrong_type",
    )


def _date(text: str) -> date | None:
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), pattern).date()  # noqa: DTZ007  # why: a calendar date, no time
        except ValueError:
            continue
    return None


def _line(number: int, row: Sequence[str], columns: _Columns) -> StatementLine:
    def cell(index: int | None) -> str:
        return row[index].strip() if index is not None and index < len(row) else ""

    date_text, amount_text, label = cell(columns.date), cell(columns.amount), cell(columns.label)
    reference = cell(columns.reference) or label
    received_on, amount = _date(date_text), parse_amount(amount_text)
    found = INVOICE_NUMBER.search(f"{label} {cell(columns.reference)}")
    error = ""
    if received_on is None:
        error = _("date « %(text)s » illisible ; écrivez-la JJ/MM/AAAA.") % {"text": date_text}
    elif amount is None:
        error = _("montant « %(text)s » illisible ; écrivez-le comme 1 234,56.") % {
            "text": amount_text
        }
    elif amount <= 0:
        error = _("montant %(amount)s : seuls les crédits (montants positifs) sont des paiements.")
        error %= {"amount": amount_text}
    return StatementLine(
        number=number,
        received_on=received_on,
        amount=amount,
        label=label,
        reference=reference[:140],
        invoice_number=found.group(0).upper() if found else "",
        error=error,
    )


def read_statement(*, content: bytes) -> list[StatementLine]:
    """The statement's data lines (blank lines skipped), numbered as a spreadsheet numbers its
    rows. Refused: too large, not text, no header naming a date, an amount and a label."""
    if len(content) > MAX_BYTES:
        raise FileRefused(
            _("Le relevé dépasse %(size)s Mo : découpez-le par période.")
            % {"size": MAX_BYTES // (1024 * 1024)},
            reason="too_large",
        )
    text = _decode(content)
    for delimiter in (";", ",", "\t"):
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
        for header_index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
            columns = _columns(row)
            if columns is None:
                continue
            data = [
                (number, row)
                for number, row in enumerate(rows[header_index + 1 :], start=header_index + 2)
                if any(cell.strip() for cell in row)
            ]
            if len(data) > MAX_LINES:
                raise FileRefused(
                    _("Le relevé compte plus de %(max)s lignes : découpez-le par période.")
                    % {"max": MAX_LINES},
                    reason="too_many_lines",
                )
            if not data:
                raise FileRefused(
                    _("Le relevé n'a aucune ligne d'opération sous son en-tête."),
                    reason="empty",
                )
            return [_line(number, row, columns) for number, row in data]
    raise FileRefused(
        _(
            "Aucun en-tête de relevé trouvé : la première ligne doit nommer les colonnes "
            "Date, Montant (ou Crédit) et Libellé."
        ),
        reason="missing_columns",
    )

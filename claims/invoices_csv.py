"""A CSV of unpaid invoices (`,` or `;`, UTF-8 or Windows-1252, French numbers and dates), read
into numbered lines, each with its verdict. Pure: nothing here touches the database."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from monitoring.common import decode, fold, parse_date
from portal.errors import RuleViolation
from studies.numbers import parse_amount

MAX_BYTES = 2 * 1024 * 1024
MAX_LINES = 5_000


@dataclass(frozen=True)
class InvoiceData:
    number: str
    amount: Decimal
    invoice_date: date
    delivery_date: date
    due_date: date


@dataclass(frozen=True)
class InvoiceLine:
    """Line `line` of the file (1 is the header): its invoice when readable, and its errors."""

    line: int
    invoice: InvoiceData | None
    errors: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.invoice is not None and not self.errors


COLUMNS = {
    "number": ("numero", "n° de facture", "numero de facture", "facture", "number", "invoice"),
    "amount": ("montant", "montant ttc", "amount"),
    "invoice_date": ("date de facture", "date facture", "invoice date"),
    "delivery_date": ("date de livraison", "livraison", "delivery date"),
    "due_date": ("echeance", "date d'echeance", "date echeance", "due date"),
}
LABELS = {
    "number": gettext_lazy("n° de facture"),
    "amount": gettext_lazy("montant"),
    "invoice_date": gettext_lazy("date de facture"),
    "delivery_date": gettext_lazy("date de livraison"),
    "due_date": gettext_lazy("échéance"),
}
TEMPLATE = (
    "numero;montant;date de facture;date de livraison;echeance\r\n"
    "F2026-0142;12 500,00;15/06/2026;12/06/2026;14/08/2026\r\n"
)


def _refused(message: str) -> RuleViolation:
    return RuleViolation(message, field="file", code="file_refused")


def _header(cells: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        key = fold(cell.replace("\ufeff", ""))
        for field, names in COLUMNS.items():
            if key in names and field not in found:
                found[field] = index
    missing = [str(LABELS[field]) for field in COLUMNS if field not in found]
    if missing:
        raise _refused(
            _("Colonnes manquantes : %(missing)s. Le modèle : %(template)s")
            % {"missing": ", ".join(missing), "template": TEMPLATE.splitlines()[0]}
        )
    return found


def read_invoice_csv(content: bytes) -> list[InvoiceLine]:
    """Every line after the header, with its verdict. Raises RuleViolation (field `file`) when
    the file cannot be read at all."""
    if not content.strip():
        raise _refused(_("Le fichier est vide."))
    if len(content) > MAX_BYTES:
        raise _refused(_("Le fichier dépasse 2 Mo : découpez-le."))
    if content.startswith((b"%PDF", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8")):
        raise _refused(_("Ce fichier n'est pas un CSV : enregistrez le tableau au format CSV."))
    text = decode(content)
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if len(rows) > MAX_LINES + 1:
        raise _refused(_("Plus de %(max)s factures : découpez le fichier.") % {"max": MAX_LINES})
    columns = _header(rows[0])
    lines: list[InvoiceLine] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        lines.append(_line(number, row, columns))
    if not lines:
        raise _refused(_("Aucune facture sous l'en-tête."))
    return lines


def _line(number: int, row: Sequence[str], columns: dict[str, int]) -> InvoiceLine:
    def cell(field: str) -> str:
        index = columns[field]
        return row[index].strip() if index < len(row) else ""

    errors: list[str] = []
    invoice_number = cell("number")
    if not invoice_number:
        errors.append(_("n° de facture manquant"))
    elif len(invoice_number) > 40:
        errors.append(_("n° de facture trop long (40 caractères au plus)"))
    amount = parse_amount(cell("amount"))
    if amount is None or amount <= 0:
        errors.append(_("montant illisible ou nul : « %(value)s »") % {"value": cell("amount")})
    dates: dict[str, date | None] = {}
    for field in ("invoice_date", "delivery_date", "due_date"):
        dates[field] = parse_date(cell(field))
        if dates[field] is None:
            errors.append(
                _("%(label)s illisible : « %(value)s » (JJ/MM/AAAA)")
                % {"label": LABELS[field], "value": cell(field)}
            )
    if errors or amount is None:
        return InvoiceLine(line=number, invoice=None, errors=tuple(errors))
    invoice_date, delivery_date, due_date = (
        dates["invoice_date"],
        dates["delivery_date"],
        dates["due_date"],
    )
    assert invoice_date and delivery_date and due_date
    return InvoiceLine(
        line=number,
        invoice=InvoiceData(
            number=invoice_number,
            amount=amount,
            invoice_date=invoice_date,
            delivery_date=delivery_date,
            due_date=due_date,
        ),
    )

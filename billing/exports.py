"""CSV export of invoices and credit notes, for the spreadsheets of French finance teams:
`;` separated, decimal comma, UTF-8 with a BOM so Excel reads the accents."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import HttpResponse

from billing.models import Invoice

HEADER = [
    "numero",
    "type",
    "date_emission",
    "mois",
    "contrat",
    "assure",
    "siren_assure",
    "assiette",
    "taux_mensuel",
    "primes",
    "complement_minimum",
    "taxe",
    "total",
    "echeance",
    "avoir_sur",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}".replace(".", ",")


def invoice_csv_lines(invoices: Iterable[Invoice]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow(HEADER)
    for invoice in invoices:
        yield writer.writerow(
            [
                invoice.number,
                invoice.kind,
                invoice.issued_on.isoformat(),
                f"{invoice.month:%Y-%m}",
                invoice.contract_number,
                invoice.policyholder_name,
                invoice.policyholder_siren,
                invoice.premium_basis,
                f"{invoice.monthly_rate.normalize():f}".replace(".", ","),
                _money(invoice.premium_total),
                _money(invoice.minimum_adjustment),
                _money(invoice.tax_amount),
                _money(invoice.total),
                invoice.due_on.isoformat(),
                invoice.credits.number if invoice.credits is not None else "",
            ]
        )


def invoice_csv_response(invoices: Iterable[Invoice], *, filename: str) -> HttpResponse:
    # Built inside the view, while the tenant scope is active (a streamed body would be read
    # after the scope middleware has exited).
    response = HttpResponse(
        "".join(invoice_csv_lines(invoices)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

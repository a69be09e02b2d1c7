"""CSV export of claims for finance, like billing's: `;` separated, decimal comma, UTF-8 with a
BOM so Excel reads the accents. One row per claim the queue's filters select."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone

from claims.models import Claim

HEADER = [
    "numero",
    "assure",
    "acheteur",
    "siren",
    "statut",
    "declare_le",
    "factures",
    "montant_declare",
    "paye_par_le_primaire",
    "indemnite_top_up",
    "payee_le",
    "a_reverser",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _decimal(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}".replace(".", ",")


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def claim_csv_lines(claims: Iterable[Claim]) -> Iterator[str]:
    """`claims` as `backoffice_claims` annotates them (invoice count and total)."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow(HEADER)
    for claim in claims:
        yield writer.writerow(
            [
                claim.number,
                claim.policyholder.name,
                claim.buyer.name,
                claim.buyer.siren or claim.buyer.vat_number or "",
                claim.get_status_display(),
                _day(timezone.localdate(claim.declared_at)),
                getattr(claim, "invoice_count", ""),
                _decimal(getattr(claim, "invoice_total", None)),
                _decimal(claim.primary_paid),
                _decimal(claim.indemnity),
                _day(claim.paid_on),
                _decimal(claim.due_back),
            ]
        )


def claim_csv_response(claims: Iterable[Claim], *, filename: str) -> HttpResponse:
    # Built inside the view, while the tenant scope is active.
    response = HttpResponse(
        "".join(claim_csv_lines(claims)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

"""BODACC-shaped records and grade CSVs built in the tests, as the open data gives them, and
the import of such a file through the built-in provider, as an arbiter does it."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.backends.postgresql.psycopg_any import DateRange

from monitoring.models import HealthFile
from monitoring.services.imports import health_file_import, health_file_receive
from portal.models import User
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.world import Tenant
from underwriting.models import Buyer

PEUGEOT = "552100554"
TOTAL = "542051180"

RECEIVERSHIP = "Jugement d'ouverture d'une procédure de redressement judiciaire"
SAFEGUARD = "Jugement d'ouverture d'une procédure de sauvegarde"
LIQUIDATION = "Jugement prononçant la liquidation judiciaire"

FIELDS = [
    "id",
    "publicationavis",
    "parution",
    "dateparution",
    "numeroannonce",
    "typeavis",
    "familleavis",
    "registre",
    "commercant",
    "tribunal",
    "jugement",
    "parutionavisprecedent",
]


def notice(
    number: int = 1234,
    *,
    siren: str | None = PEUGEOT,
    nature: str = RECEIVERSHIP,
    judged_on: str = "2026-11-20",
    typeavis: str = "annonce",
    famille: str = "collective",
    previous: dict[str, str] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """One record of `annonces-commerciales` as the open data gives it (JSON lines shape)."""
    assert siren is not None, "a registry buyer without SIREN cannot be in BODACC"
    spaced = f"{siren[:3]} {siren[3:6]} {siren[6:]}"
    record: dict[str, Any] = {
        "id": f"A20260231{number}",
        "publicationavis": "A",
        "parution": "20260231",
        "dateparution": "2026-11-27",
        "numeroannonce": number,
        "typeavis": typeavis,
        "familleavis": famille,
        "registre": [spaced, siren],
        "commercant": "SOCIETE EXEMPLE",
        "tribunal": "TRIBUNAL DE COMMERCE DE LYON",
        "jugement": json.dumps(
            {
                "type": "initial",
                "famille": "Jugement d'ouverture",
                "nature": nature,
                "date": judged_on,
                "complementJugement": "Mandataire judiciaire : Maître X.",
            },
            ensure_ascii=False,
        ),
    }
    if previous is not None:
        record["parutionavisprecedent"] = json.dumps(previous, ensure_ascii=False)
    record.update(overrides)
    return record


def json_lines(*records: dict[str, Any] | str) -> bytes:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    return ("\n".join(lines) + "\n").encode()


def bodacc_csv(*records: dict[str, Any], bom: bool = True) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(FIELDS)
    for record in records:
        row = dict(record)
        if isinstance(row.get("registre"), list):
            row["registre"] = ",".join(row["registre"])
        writer.writerow(["" if row.get(name) is None else str(row[name]) for name in FIELDS])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


PREVIOUS = {
    "nomPublication": "BODACC A",
    "numeroParution": "20260231",
    "dateParution": "27 novembre 2026",
    "numeroAnnonce": "1234",
}


def previous_of(
    number: int, *, parution: str = "20260231", date_text: str = "27 novembre 2026"
) -> dict[str, str]:
    """`parutionavisprecedent` naming the notice `number` of issue `parution`."""
    return {
        "nomPublication": "BODACC A",
        "numeroParution": parution,
        "dateParution": date_text,
        "numeroAnnonce": str(number),
    }


def grades_csv(*rows: tuple[str | None, str, int | str, str]) -> bytes:
    """Grade changes: (siren, date, grade, source) per row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["siren", "date", "note", "source"])
    for row in rows:
        writer.writerow(["" if cell is None else str(cell) for cell in row])
    return out.getvalue().encode()


def imported(
    actor: User, content: bytes, *, kind: str = "bodacc", name: str = "bodacc.jsonl"
) -> HealthFile:
    """Give a file to the built-in provider and import it at once, as the page does."""
    file = health_file_receive(kind=kind, name=name, content=content, actor=actor)
    return health_file_import(file_id=file.pk)


def exposed_buyer(*holdings: tuple[Tenant, str], **fields: object) -> Buyer:
    """A registry buyer each `(tenant, amount)` holds a top-up of `amount` on, since January."""
    buyer = BuyerFactory.create(**fields)
    for tenant, amount in holdings:
        GuaranteeFactory.create(
            contract=tenant.contract,
            buyer=buyer,
            amount=Decimal(amount),
            period=DateRange(date(2026, 1, 1), None, "[)"),
        )
    return buyer

"""Demo buyer-health data, imported through the real services as an arbiter would: a small
BODACC file (a receivership on a buyer the demo wholesaler Distrilog holds a top-up on, a
safeguard elsewhere in the registry) and a grade file (one of its buyers sliding from 8 to 3
over the year), so that Distrilog has alerts, a buyer with a grade history and one in
receivership.

A file already applied (same content) is not given again: building twice changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date

from django_scopes import scopes_disabled

from monitoring.models import FileKind, FileStatus, HealthFile
from monitoring.services.imports import health_file_import, health_file_receive
from portal.models import Organisation, OrganisationKind, User
from portal.tenancy import tenant_scope
from underwriting.models import Buyer
from underwriting.selectors import guarantees_in_force

DISTRILOG_SIREN = "552100554"
RECEIVERSHIP = "Jugement d'ouverture d'une procédure de redressement judiciaire"
SAFEGUARD = "Jugement d'ouverture d'une procédure de sauvegarde"
# The sliding buyer's grades over the year: the last fall (6 → 3) raises an alert.
GRADE_HISTORY = [("2026-02-02", 8), ("2026-05-04", 7), ("2026-08-03", 6), ("2026-10-19", 3)]


def _notice(number: int, buyer: Buyer, nature: str, judged_on: date, published_on: date) -> str:
    siren = buyer.siren or ""
    return json.dumps(
        {
            "id": f"A20262{number:03d}{number}",
            "publicationavis": "A",
            "parution": f"20262{number:03d}",
            "dateparution": published_on.isoformat(),
            "numeroannonce": number,
            "typeavis": "annonce",
            "familleavis": "collective",
            "registre": [f"{siren[:3]} {siren[3:6]} {siren[6:]}", siren],
            "commercant": buyer.name.upper(),
            "tribunal": "TRIBUNAL DE COMMERCE DE LYON",
            "jugement": json.dumps(
                {
                    "type": "initial",
                    "famille": "Jugement d'ouverture",
                    "nature": nature,
                    "date": judged_on.isoformat(),
                },
                ensure_ascii=False,
            ),
        },
        ensure_ascii=False,
    )


def _bodacc(in_receivership: Buyer, in_safeguard: Buyer) -> bytes:
    lines = [
        _notice(101, in_receivership, RECEIVERSHIP, date(2026, 11, 10), date(2026, 11, 17)),
        _notice(102, in_safeguard, SAFEGUARD, date(2026, 10, 6), date(2026, 10, 14)),
    ]
    return ("\n".join(lines) + "\n").encode()


def _grades(sliding: Buyer, other: Buyer) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["siren", "date", "note", "source"])
    for effective_on, grade in GRADE_HISTORY:
        writer.writerow([sliding.siren, effective_on, grade, "Banque de France"])
    for effective_on, grade in [("2026-03-02", 6), ("2026-09-07", 7)]:
        writer.writerow([other.siren, effective_on, grade, "Banque de France"])
    return out.getvalue().encode()


def _import_once(*, kind: str, name: str, content: bytes, actor: User) -> None:
    digest = hashlib.sha256(content).hexdigest()
    if HealthFile.objects.filter(sha256=digest, status=FileStatus.APPLIED).exists():
        return
    file = health_file_receive(kind=kind, name=name, content=content, actor=actor)
    health_file_import(file_id=file.pk)


def build_demo_monitoring() -> None:
    """Call outside any transaction (the import services own theirs), after the demo world."""
    with scopes_disabled():
        distrilog = Organisation.objects.filter(
            kind=OrganisationKind.POLICYHOLDER, siren=DISTRILOG_SIREN
        ).first()
        if distrilog is None or distrilog.dedicated_arbiter is None:
            return
        actor = distrilog.dedicated_arbiter
        exposed = list(
            Buyer.objects.filter(
                pk__in=guarantees_in_force()
                .filter(policyholder=distrilog)
                .values_list("buyer_id", flat=True)
            ).order_by("siren")
        )
        others = list(
            Buyer.objects.exclude(pk__in=[buyer.pk for buyer in exposed])
            .filter(siren__isnull=False)
            .order_by("siren")[:1]
        )
    if len(exposed) < 3 or not others:
        return
    with tenant_scope(None):
        _import_once(
            kind=FileKind.BODACC,
            name="bodacc-demo.jsonl",
            content=_bodacc(in_receivership=exposed[0], in_safeguard=others[0]),
            actor=actor,
        )
        _import_once(
            kind=FileKind.GRADES,
            name="notes-demo.csv",
            content=_grades(sliding=exposed[1], other=exposed[2]),
            actor=actor,
        )


__all__ = ["build_demo_monitoring"]

"""Studies figures (issue 8): a 20 000-line buyer list, as CSV and as the same XLSX, from the
uploaded bytes to a verdict per line (time, and tracemalloc's peak of what the reading
allocates), beside the time PostgreSQL's COPY takes to load the same rows raw into a temporary
table, in the same run. Nothing is written to the database outside that temporary table."""

from __future__ import annotations

import csv
import io
import resource
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.test import override_settings
from django_scopes import scopes_disabled
from openpyxl import Workbook
from stdnum import luhn

from benchmarks.database import references_checked_once
from benchmarks.registry import Figure, benchmark
from portal.models import AuditEvent, Organisation, OrganisationKind, Role, User
from portal.tenancy import tenant_scope
from studies.exports import verdicts_csv, verdicts_xlsx
from studies.models import Study, StudyLine
from studies.parsing import read_buyer_list
from studies.services import study_start, study_upload
from studies.verdicts import line_verdicts
from underwriting.models import Buyer, Contract, ContractStatus

LINES = 20_000
MB = 1024 * 1024
HEADER = ("SIREN", "Raison sociale", "Encours", "Limite primaire", "Top-up demandé")
Row = tuple[str, str, Decimal, Decimal, Decimal | None]


def _siren(index: int) -> str:
    base = f"{(96_000_000 + index * 7) % 100_000_000:08d}"
    return base + luhn.calc_check_digit(base)


def _identifier(index: int) -> str:
    """The forms a broker's list mixes: SIREN plain or spaced, SIRET, French VAT number."""
    siren = _siren(index)
    match index % 10:
        case 0:
            base = siren + "0001"
            return base + luhn.calc_check_digit(base)
        case 1:
            return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
        case 2:
            return f"{siren[:3]} {siren[3:6]} {siren[6:]}"
        case _:
            return siren


def _rows() -> list[Row]:
    rows: list[Row] = []
    for index in range(LINES):
        exposure = Decimal(10_000 + (index * 37) % 990_000) + Decimal("0.45")
        primary = (exposure * Decimal("0.4")).quantize(Decimal("0.01"))
        top_up = primary if index % 3 else None
        if index % 997 == 0:  # a few lines break a rule, as real lists do
            top_up = primary * 3
        rows.append((_identifier(index), f"Revendeur n°{index + 1}", exposure, primary, top_up))
    return rows


def _french(amount: Decimal | None, index: int) -> str:
    if amount is None:
        return ""
    whole, cents = f"{amount:.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", "\u00a0" if index % 2 else " ")
    return f"{grouped},{cents}"


def _csv_bytes(rows: list[Row]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for index, (identifier, name, exposure, primary, top_up) in enumerate(rows):
        writer.writerow(
            (
                identifier,
                name,
                _french(exposure, index),
                _french(primary, index),
                _french(top_up, index),
            )
        )
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx_bytes(rows: list[Row]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Acheteurs")
    sheet.append(HEADER)
    for identifier, name, exposure, primary, top_up in rows:
        # Amounts as number cells, as a spreadsheet holds them.
        sheet.append([identifier, name, exposure, primary, top_up])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _to_verdicts(content: bytes, filename: str) -> tuple[int, int]:
    parsed = read_buyer_list(content=content, filename=filename)
    verdicts = line_verdicts(
        lines=parsed.lines, top_up_multiple=Decimal("2"), headers=parsed.headers
    )
    return len(verdicts), sum(1 for verdict in verdicts if verdict.accepted)


def _copy_raw(content: bytes) -> tuple[float, int]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_buyer_list (identifier text, name text, "
            "exposure text, primary_limit text, top_up text) ON COMMIT DROP"
        )
        start = time.perf_counter()
        with cursor.cursor.copy(
            "COPY bench_buyer_list FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true)"
        ) as copy:
            copy.write(content)
        seconds = time.perf_counter() - start
        cursor.execute("SELECT count(*) FROM bench_buyer_list")
        (count,) = cursor.fetchone()
    return seconds, count


@benchmark("studies")
def studies_upload() -> Iterator[Figure]:
    rows = _rows()
    files = {"csv": _csv_bytes(rows), "xlsx": _xlsx_bytes(rows)}
    yield "lines", LINES, "lines"
    seconds: dict[str, float] = {}
    accepted_lines: dict[str, int] = {}
    for kind, content in files.items():
        yield f"{kind}_file_size", len(content) / MB, "MB"
        start = time.perf_counter()
        lines, accepted = _to_verdicts(content, f"acheteurs.{kind}")
        seconds[kind] = time.perf_counter() - start
        assert lines == LINES, lines
        yield f"{kind}_upload_to_verdicts", seconds[kind], "s"
        yield f"{kind}_accepted_lines", accepted, "lines"
        accepted_lines[kind] = accepted
        # Measured apart: tracing slows the reading down several times.
        tracemalloc.start()
        _to_verdicts(content, f"acheteurs.{kind}")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        yield f"{kind}_peak_memory", peak / MB, "MB"

    copy_seconds, copied = _copy_raw(files["csv"])
    assert copied == LINES, copied
    yield "postgres_copy_raw", copy_seconds * 1000, "ms"
    for kind in files:
        yield f"{kind}_vs_postgres_copy", seconds[kind] / copy_seconds, "x"

    parsed = read_buyer_list(content=files["csv"], filename="acheteurs.csv")
    verdicts = line_verdicts(lines=parsed.lines, top_up_multiple=Decimal("2"))
    for kind, export in (("csv", verdicts_csv), ("xlsx", verdicts_xlsx)):
        start = time.perf_counter()
        export(verdicts)
        yield f"verdicts_{kind}_export", time.perf_counter() - start, "s"
    yield from _through_the_service(files, expected=accepted_lines)
    # ru_maxrss is in kilobytes on Linux: the whole process, data generation included.
    yield "process_max_rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB"


# --- the same lists through the upload service: registry look-ups, buyers created, proposals
# and 20 000 study lines written, in the policyholder's scope (row-level security follows it).

BENCH_NAME = "Bench Études"


def _bench_cleanup() -> None:
    with scopes_disabled():
        organisations = list(Organisation.objects.filter(name=BENCH_NAME))
        StudyLine.objects.filter(policyholder__in=organisations).delete()
        Study.objects.filter(policyholder__in=organisations).delete()
        buyers = Buyer.objects.filter(name__startswith="Revendeur n°")
        buyer_ids = [str(pk) for pk in buyers.values_list("pk", flat=True)]
        events = AuditEvent.objects.filter(
            policyholder__in=organisations
        ) | AuditEvent.objects.filter(object_type=Buyer._meta.label, object_id__in=buyer_ids)
        events.delete()
        with references_checked_once(Buyer._meta.db_table):  # checked once, not per buyer
            buyers.delete()
        Contract.objects.filter(policyholder__in=organisations).delete()
        User.objects.filter(organisation__in=organisations).delete()
        Organisation.objects.filter(pk__in=[o.pk for o in organisations]).delete()


def _upload_once(kind: str, content: bytes) -> tuple[float, int]:
    with scopes_disabled():
        organisation = Organisation.objects.create(
            kind=OrganisationKind.POLICYHOLDER, name=BENCH_NAME
        )
        contract = Contract.objects.create(
            policyholder=organisation,
            number=f"UP-BENCH-STUDY-{kind}",
            primary_insurer_name="Bench",
            primary_policy_number="B-1",
            status=ContractStatus.DRAFT,
            starts_on=date(2026, 1, 1),
            monthly_rate=Decimal("0.0012"),
        )
        actor = User.objects.create(
            username=f"bench-study-{kind}@bench.test",
            email=f"bench-study-{kind}@bench.test",
            organisation=organisation,
            role=Role.CREDIT_MANAGER,
        )
    # The scope the middleware gives the wholesaler's credit manager: its own organisation.
    with tenant_scope([organisation.pk]), override_settings(STUDY_ASYNC_LINES=LINES * 10):
        study = study_start(contract=contract, actor=actor)
        start = time.perf_counter()
        study = study_upload(
            study_id=study.pk, content=content, filename=f"acheteurs.{kind}", actor=actor
        )
        seconds = time.perf_counter() - start
        stored = StudyLine.objects.filter(study=study).count()
    assert stored == LINES, f"{stored} study lines visible in the tenant's scope, not {LINES}"
    return seconds, study.lines_accepted


def _through_the_service(files: dict[str, bytes], *, expected: dict[str, int]) -> Iterator[Figure]:
    for kind, content in files.items():
        _bench_cleanup()
        try:
            seconds, accepted = _upload_once(kind, content)
            yield f"{kind}_upload_service_to_stored_verdicts", seconds, "s"
            yield f"{kind}_upload_service_accepted_lines", accepted, "lines"
            # The service stores the verdicts the reading alone gives.
            assert accepted == expected[kind], (kind, accepted, expected[kind])
            _bench_cleanup()
            tracemalloc.start()
            _upload_once(kind, content)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            yield f"{kind}_upload_service_peak_memory", peak / MB, "MB"
        finally:
            _bench_cleanup()

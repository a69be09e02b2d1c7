"""Billing figures (issue 15 §4-6): a month of 10 000 contracts × 100 guarantees billed
in-process beside its anchor, the bare `INSERT … SELECT` of the same 1 000 000 lines measured in
the same benchmark run; the whole month (billing fanned out as group tasks, then PDFs) with 1
and 2 Celery worker processes; with `BENCH_BILLING_BOOK=<n>`, every figure again on a book of n
contracts and its growth. The render times of 10-, 100- and 1 000-line invoices and the month's
PDFs by themselves are benchmarks/pdfs.py's.

The bench books live in their own corner so the demo data stays believable: one bench
policyholder per book, *terminated* contracts in force in January 2001 (the 10 000 book) or
January 2002 (a grown book) only, 100 bench buyers, guarantee periods that all end by
1 February. A book is written once with COPY and reused. The bench invoices are deleted after
each measure and the year's number sequence is given back.

Under row-level security (the benchmarks' ordinary role), the book is written and the bare SQL
runs inside `scopes_disabled()`, as the run itself does; the anchor's scratch table carries the
lines' foreign keys and row-level security policy; the PDFs render in the invoice's
policyholder scope, as the render task does. The run's counts and totals are checked against
the bare SQL, so that rows hidden by a policy fail the benchmark instead of speeding it up.
The machine is shared: compare the ratios measured in one run, not raw seconds across runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django_scopes import scopes_disabled
from stdnum import luhn

from benchmarks.database import (
    admin_url,
    as_superuser,
    copy_into_tenant_table,
    require_all_rows,
    rls_cost,
)
from benchmarks.registry import Figure, benchmark
from billing import premium_sql, services
from billing.models import (
    BillingRun,
    BillingRunStatus,
    BillingRunTrigger,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
    InvoicePdf,
)
from billing.premium import days_in, month_after
from portal.demo import build_demo_world
from portal.models import AuditEvent, Organisation, OrganisationKind
from portal.timeutils import business_today
from underwriting.models import Buyer, Contract, ContractStatus, Guarantee, PremiumBasis

MONTH = date(2001, 1, 1)
CONTRACTS = 10_000
GUARANTEES = 100
BENCH_NAME = "Grossiste de banc d'essai (benchmark)"
# The grown book's contracts (issue 15 §6): `BENCH_BILLING_BOOK=100000 make bench ARGS=billing`.
BOOK_VARIABLE = "BENCH_BILLING_BOOK"
WORKERS = (1, 2)  # worker processes of the whole-month figures
ANCHOR_TARGET = 1.5  # the run at most 1.5× the bare INSERT … SELECT of its lines
# PDFs of the whole-month figures: a sample of this many invoices (BENCH_PDF_SAMPLE; 0: every
# invoice of the month, hours at today's render times), the rest estimated at its pace. They
# are enqueued in batches of `billing.services.pdfs.PDF_BATCH` (50): the default sample keeps
# two workers busy.
PDF_SAMPLE = int(os.environ.get("BENCH_PDF_SAMPLE", "100"))


def _bench_siren(index: int) -> str:
    # 97…: the underwriting bench uses 98…, and both may live in the same database.
    base = f"{(97_000_000 + index * 7) % 100_000_000:08d}"
    return base + luhn.calc_check_digit(base)


@dataclass(frozen=True)
class Book:
    """A bench book: `contracts` × GUARANTEES guarantees, all in force in January of `year`
    only. The 10 000-contract book bills January 2001; a grown book (BOOK_VARIABLE) January
    2002, so that the run of one never bills the other."""

    contracts: int

    @property
    def year(self) -> int:
        return 2001 if self.contracts == CONTRACTS else 2002

    @property
    def month(self) -> date:
        return date(self.year, 1, 1)

    @property
    def name(self) -> str:
        return BENCH_NAME if self.contracts == CONTRACTS else f"{BENCH_NAME} ({self.contracts})"

    def number(self, index: int) -> str:
        prefix = "BENCH" if self.contracts == CONTRACTS else f"BENCH{self.contracts}"
        return f"{prefix}-{index + 1:06d}"

    def period(self, contract: int, buyer: int) -> str:
        """Varied periods within January (31 days), all closed by 1 February."""
        y, day = self.year, 1 + (contract + buyer) % 28
        match buyer % 4:
            case 0:
                return f"[{y - 1}-06-01,{y}-02-01)"  # the whole month
            case 1:
                return f"[{y}-01-{day:02d},{y}-02-01)"  # granted mid-month
            case 2:
                return f"[{y - 1}-12-01,{y}-01-{day + 1:02d})"  # ended mid-month
            case _:
                return f"[{y}-01-05,{y}-01-20)"  # a short seasonal limit


def _period(contract: int, buyer: int) -> str:
    """The 10 000-contract book's periods (January 2001), also the fault benchmark's."""
    return Book(CONTRACTS).period(contract, buyer)


@transaction.atomic
def _bench_book(book: Book) -> tuple[Organisation, list[uuid.UUID]]:
    """The bench policyholder and its contracts, created with COPY the first time only."""
    with scopes_disabled():  # tenant rows of one policyholder, written outside any request
        return _bench_book_unscoped(book)


def _delete_book(policyholder: Organisation) -> None:
    """A book's rows, set-based (the ORM would load ten million guarantees to delete them)."""
    with connection.cursor() as cursor:
        for model in (InvoiceLine, InvoicePdf, Invoice, Guarantee, Contract):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE policyholder_id = %s",  # noqa: S608
                [policyholder.pk],
            )


def _bench_book_unscoped(book: Book) -> tuple[Organisation, list[uuid.UUID]]:
    policyholder, _ = Organisation.objects.get_or_create(
        kind=OrganisationKind.POLICYHOLDER,
        name=book.name,
        defaults={"address": "1 rue du Banc d'Essai\n75000 Paris"},
    )
    contract_ids = list(
        Contract.objects.filter(policyholder=policyholder)
        .order_by("number")
        .values_list("pk", flat=True)
    )
    if len(contract_ids) == book.contracts and (
        Guarantee.objects.filter(policyholder=policyholder).count() == book.contracts * GUARANTEES
    ):
        return policyholder, contract_ids
    if book.contracts != CONTRACTS:  # one grown book at a time: they bill the same month
        for other in Organisation.objects.filter(name__startswith=f"{BENCH_NAME} ("):
            _delete_book(other)
    _delete_book(policyholder)
    sirens = [_bench_siren(i) for i in range(GUARANTEES)]
    existing = set(Buyer.objects.filter(siren__in=sirens).values_list("siren", flat=True))
    Buyer.objects.bulk_create(
        [
            Buyer(siren=siren, name=f"Revendeur banc d'essai {i + 1:03d}", city="Paris")
            for i, siren in enumerate(sirens)
            if siren not in existing
        ]
    )
    buyers = dict(Buyer.objects.filter(siren__in=sirens).values_list("siren", "pk"))
    buyer_ids = [buyers[siren] for siren in sirens]
    now = timezone.now()
    contract_ids = [uuid.uuid4() for _ in range(book.contracts)]
    # COPY leaves out the model's defaults: the columns without one in the database get it here.
    answer_time_hours = Contract._meta.get_field("answer_time_hours").get_default()
    with connection.cursor() as cursor:
        with copy_into_tenant_table(
            cursor,
            Contract._meta.db_table,
            "id, policyholder_id, number, primary_insurer_name, primary_policy_number, status, "
            "starts_on, ends_on, monthly_rate, premium_basis, insured_percentage, "
            "max_credit_term_days, waiting_period_days, declaration_deadline_days, "
            "top_up_multiple, answer_time_hours, created_at",
        ) as copy:
            for i, contract_id in enumerate(contract_ids):
                copy.write_row(
                    (
                        contract_id,
                        policyholder.pk,
                        book.number(i),
                        "Allianz Trade",
                        f"AT-{book.number(i)}",
                        ContractStatus.TERMINATED,
                        date(book.year - 1, 6, 1),
                        date(book.year, 1, 31),
                        Decimal("0.0012") if i % 3 else Decimal("0.0011"),
                        PremiumBasis.PRORATA if i % 2 else PremiumBasis.PEAK,
                        Decimal("0.9"),
                        90,
                        150,
                        60,
                        Decimal("2"),
                        answer_time_hours,
                        now,
                    )
                )
        with copy_into_tenant_table(
            cursor,
            Guarantee._meta.db_table,
            "id, policyholder_id, contract_id, buyer_id, amount, primary_amount, period, change, "
            "created_at, note",
        ) as copy:
            for i, contract_id in enumerate(contract_ids):
                for j, buyer_id in enumerate(buyer_ids):
                    copy.write_row(
                        (
                            uuid.uuid4(),
                            policyholder.pk,
                            contract_id,
                            buyer_id,
                            Decimal(10_000 + ((i * 7 + j * 13) % 90) * 1_000),
                            Decimal("100000"),
                            book.period(i, j),
                            "grant",
                            now,
                            "",
                        )
                    )
        # Statistics for what COPY wrote, as a book loaded over months would have: a contracts
        # table whose statistics predate the book makes PostgreSQL find a group's contracts by
        # their end date (every contract of the month) instead of by id.
        cursor.execute(f"ANALYZE {Contract._meta.db_table}, {Guarantee._meta.db_table}")
    return policyholder, contract_ids


BARE_SQL = f"""
SELECT SUM(ROUND(CASE WHEN c.premium_basis = 'peak' THEN x.peak * c.monthly_rate
                      ELSE x.amount_days * c.monthly_rate / 31 END, 2)), COUNT(*)
  FROM (SELECT g.contract_id,
               MAX(g.amount) AS peak,
               SUM(g.amount * (upper(g.period * m.r) - lower(g.period * m.r))) AS amount_days
          FROM {Guarantee._meta.db_table} g
         CROSS JOIN (SELECT daterange(%(first)s, %(next)s, '[)') AS r) m
         WHERE g.policyholder_id = %(policyholder)s AND g.period && m.r
         GROUP BY g.contract_id, g.buyer_id) x
  JOIN {Contract._meta.db_table} c ON c.id = x.contract_id
"""  # noqa: S608 - table names only


def _bare_aggregate(policyholder: Organisation, month: date) -> tuple[float, Decimal, int]:
    start = time.perf_counter()
    # Under the same policies as the run: the insurer-wide scope it bills in.
    with scopes_disabled(), connection.cursor() as cursor:
        cursor.execute(
            BARE_SQL,
            {"first": month, "next": month_after(month), "policyholder": policyholder.pk},
        )
        total, lines = cursor.fetchone()
    return time.perf_counter() - start, total, lines


def _computation_only(contract_ids: list[uuid.UUID], month: date) -> tuple[float, Decimal]:
    """The premium computation of the run alone: the same SQL, per group of contracts, without
    writing anything."""
    start = time.perf_counter()
    total = Decimal("0")
    for begin in range(0, len(contract_ids), services.COMMIT_EVERY):
        group = contract_ids[begin : begin + services.COMMIT_EVERY]
        with scopes_disabled(), connection.cursor() as cursor:
            cursor.execute(
                premium_sql.SUMS,
                {
                    "first": month,
                    "next": month_after(month),
                    "days_in_month": days_in(month),
                    "contracts": group,
                },
            )
            total += sum((amount for _, amount in cursor.fetchall()), Decimal("0"))
    return time.perf_counter() - start, total


ANCHOR_TABLE = "bench_anchor_invoiceline"
RANDOM_IDS = "gen_random_uuid()"

# The run's lines, written by one bare statement: computed from the guarantees as the run does
# and joined to the invoices the run issued, with random ids as a plain INSERT would have.
ANCHOR_SQL = f"""
INSERT INTO {ANCHOR_TABLE}
       (id, policyholder_id, invoice_id, position, buyer_id, buyer_name, buyer_identifier,
        label, base, amount_days, days_in_force, rate, premium)
SELECT {{ids}}, i.policyholder_id, i.id,
       row_number() OVER (PARTITION BY w.contract_id ORDER BY b.name, b.id),
       w.buyer_id, b.name, COALESCE(b.siren, b.vat_number, ''), '',
       w.base, w.amount_days, w.days, w.rate, w.premium
  FROM ({premium_sql.LINES}) w
  JOIN {Invoice._meta.db_table} i
    ON i.contract_id = w.contract_id AND i.month = %(first)s AND i.kind = 'invoice'
  JOIN {Buyer._meta.db_table} b ON b.id = w.buyer_id
"""  # noqa: S608 - table names only


def _anchor_table(cursor: Any, *, constraints: bool) -> None:
    """A scratch table shaped like the lines' table, with its indexes and check constraints;
    with `constraints`, also its foreign keys and its row-level security policies, copied from
    the catalogue (what the run's INSERT pays for)."""
    lines = InvoiceLine._meta.db_table
    cursor.execute(f"DROP TABLE IF EXISTS {ANCHOR_TABLE}")
    cursor.execute(f"CREATE TABLE {ANCHOR_TABLE} (LIKE {lines} INCLUDING ALL)")
    if not constraints:
        return
    cursor.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'f'",
        [lines],
    )
    for (definition,) in cursor.fetchall():
        cursor.execute(f"ALTER TABLE {ANCHOR_TABLE} ADD {definition}")
    cursor.execute(
        "SELECT policyname, qual, with_check FROM pg_policies WHERE tablename = %s", [lines]
    )
    policies = cursor.fetchall()
    assert policies, f"{lines} has no row-level security policy"
    cursor.execute(f"ALTER TABLE {ANCHOR_TABLE} ENABLE ROW LEVEL SECURITY")
    cursor.execute(f"ALTER TABLE {ANCHOR_TABLE} FORCE ROW LEVEL SECURITY")
    for name, using, check in policies:
        cursor.execute(
            f"CREATE POLICY {name} ON {ANCHOR_TABLE} USING ({using}) WITH CHECK ({check})"
        )


def _anchor(
    contract_ids: list[uuid.UUID], month: date, *, constraints: bool, ids: str = RANDOM_IDS
) -> tuple[float, int]:
    """Seconds for the bare `INSERT … SELECT` of the run's lines into a scratch table, in one
    statement and one transaction (its commit, and its deferred foreign-key checks, included),
    as the benchmarks' role and in the run's insurer-wide scope; the rows it wrote."""
    with scopes_disabled(), connection.cursor() as cursor:
        require_all_rows(cursor)
        _anchor_table(cursor, constraints=constraints)
        try:
            start = time.perf_counter()
            with transaction.atomic():
                cursor.execute(
                    ANCHOR_SQL.format(ids=ids),
                    {
                        "first": month,
                        "next": month_after(month),
                        "days_in_month": days_in(month),
                        "contracts": contract_ids,
                    },
                )
                written = cursor.rowcount
            return time.perf_counter() - start, written
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {ANCHOR_TABLE}")


def _clean_up(policyholder: Organisation, month: date, sequence_before: int | None) -> None:
    """Delete the bench invoices, their audit rows and runs; give the numbers back."""
    year = business_today().year
    with transaction.atomic(), scopes_disabled():
        sequence = InvoiceNumberSequence.objects.select_for_update().filter(year=year).first()
        bench = Invoice.objects.filter(policyholder=policyholder)
        ids = [str(pk) for pk in bench.values_list("pk", flat=True)]
        highest = (
            bench.filter(year=year).order_by("-sequence").values_list("sequence", flat=True).first()
        )
        issued_this_year = bench.filter(year=year).count()
        AuditEvent.objects.filter(object_type="billing.Invoice", object_id__in=ids).delete()
        with connection.cursor() as cursor:  # a million lines: set-based, not by the ORM
            for model in (InvoiceLine, InvoicePdf):
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} WHERE policyholder_id = %s",  # noqa: S608
                    [policyholder.pk],
                )
        bench.filter(kind="credit_note").delete()
        bench.delete()
        runs = BillingRun.objects.filter(month=month)
        AuditEvent.objects.filter(
            object_type="billing.BillingRun",
            object_id__in=[str(pk) for pk in runs.values_list("pk", flat=True)],
        ).delete()
        runs.delete()
        # Only when the bench numbers were the last ones: otherwise leave the sequence alone.
        if (
            sequence is not None
            and highest == sequence.last
            and sequence.last - issued_this_year == (sequence_before or 0)
        ):
            sequence.last = sequence_before or 0
            sequence.save(update_fields=["last"])
    # A million dead lines would make every later buyer deletion's foreign-key check scan them
    # (no index on the lines' buyer) where autovacuum is off or behind.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {InvoiceLine._meta.db_table}, {Invoice._meta.db_table}")


def analyze_refilled() -> None:
    """Statistics for the million lines just written. The clean-up analyses the lines' table
    empty of this policyholder (or full of the grown book's), and a million rows added to it do
    not reach autovacuum's threshold at once: with those statistics PostgreSQL reads a render's
    100 lines through the policyholder index, a scan of the whole month (0.27 s a render where
    the (invoice, position) index takes a millisecond). A ledger of many months, in production,
    keeps statistics that hold."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {InvoiceLine._meta.db_table}, {Invoice._meta.db_table}")


def _purge(*queues: str) -> None:
    """Drop the messages waiting in `queues` (the render kicks of a month the bench does not
    render in full, leftovers of a killed bench)."""
    from kombu import Queue

    from unlockplus.celery import app

    with app.connection_for_write() as broker:
        for queue in queues:
            Queue(queue).bind(broker.default_channel).purge()


@contextmanager
def _workers(count: int, queue: str, *, superuser: bool = False) -> Iterator[None]:
    """`count` Celery worker processes (one process each, as on `count` machines) consuming
    `queue`, against the benchmark's database and broker, as its role (or, with `superuser`,
    as the superuser of `DATABASE_ADMIN_URL`, exempt from row-level security); stopped (warm
    shutdown) afterwards."""
    from unlockplus.celery import app

    names = [f"bench{index}-{os.getpid()}@{queue}" for index in range(count)]
    environment = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false"}
    if superuser:
        environment["DATABASE_URL"] = admin_url(connection.settings_dict["NAME"])
    processes = [
        subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "celery", "-A", "unlockplus", "worker", "-P", "solo"]
            + ["-Q", queue, "-n", name, "-l", "warning"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=environment,
            cwd=settings.BASE_DIR,
        )
        for name in names
    ]
    try:
        deadline = time.monotonic() + 120
        while len(app.control.ping(destination=names, timeout=1.0) or []) < count:
            assert time.monotonic() < deadline, "the bench workers did not start"
            assert all(process.poll() is None for process in processes), "a worker died"
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_finished(run_id: uuid.UUID, timeout: float) -> BillingRun:
    deadline = time.monotonic() + timeout
    while True:
        run = BillingRun.objects.get(pk=run_id)
        if run.status not in {BillingRunStatus.QUEUED, BillingRunStatus.RUNNING}:
            return run
        assert time.monotonic() < deadline, f"run {run_id} not finished after {timeout} s"
        time.sleep(0.2)


def _pdf_sample(policyholder: Organisation, month: date, workers: int) -> tuple[int, float]:
    """Render and store the PDFs of PDF_SAMPLE invoices (every invoice with 0) through the
    batch render tasks (`invoice_pdfs_fan_out`), on `workers` PDF worker processes;
    (rendered, seconds)."""
    with scopes_disabled():
        invoices = Invoice.objects.filter(policyholder=policyholder, month=month).order_by(
            "sequence"
        )
        ids = [str(pk) for pk in invoices.values_list("pk", flat=True)]
        ids = ids[:PDF_SAMPLE] if PDF_SAMPLE else ids
    with _workers(workers, "pdf"):
        return len(ids), pdfs_fanned_out_and_stored(ids)


def pdfs_fanned_out_and_stored(ids: list[str]) -> float:
    """Seconds from handing `ids` to the batch render tasks (`invoice_pdfs_fan_out`, batches as
    a run's) until every one of their PDFs is stored, by the workers already running."""
    start = time.perf_counter()
    services.invoice_pdfs_fan_out(invoice_ids=ids)
    deadline = time.monotonic() + 4 * 3600
    while True:
        with scopes_disabled():
            stored = InvoicePdf.objects.filter(invoice_id__in=ids).count()
        if stored == len(ids):
            return time.perf_counter() - start
        assert time.monotonic() < deadline, f"{stored} of {len(ids)} PDFs stored"
        time.sleep(0.2)


def _whole_month(
    book: Book, policyholder: Organisation, sequence_before: int | None, workers: int
) -> Iterator[Figure]:
    """The month as production runs it (issue 15 §5): the run fanned out as group tasks on
    `workers` billing worker processes, then the PDFs on as many PDF worker processes."""
    _purge("billing", "pdf")
    with _workers(workers, "billing"):
        run = services.billing_run_create(
            month=book.month, trigger=BillingRunTrigger.COMMAND, actor=None
        )
        start = time.perf_counter()
        services.billing_run_dispatch(run_id=run.pk)
        run = _wait_finished(run.pk, timeout=4 * 3600)
        billing_seconds = time.perf_counter() - start
    assert (run.status, run.issued, run.failed) == (
        BillingRunStatus.FINISHED,
        book.contracts,
        0,
    ), (run.status, run.issued, run.failed, run.error)
    _purge("pdf")  # the groups' render kicks: the PDFs are measured below, on their own
    analyze_refilled()
    rendered, pdf_seconds = _pdf_sample(policyholder, book.month, workers)
    pdfs_per_second = rendered / pdf_seconds
    prefix = f"whole_month_{workers}_worker"
    yield f"{prefix}.billing", billing_seconds, "s"
    yield f"{prefix}.pdfs_rendered", rendered, "pdfs"
    yield f"{prefix}.pdf_throughput", pdfs_per_second, "pdfs/s"
    # Every PDF rendered above: measured; a sample: the month's PDFs at the sample's pace.
    whole = billing_seconds + (
        pdf_seconds if rendered == book.contracts else book.contracts / pdfs_per_second
    )
    yield f"{prefix}{'' if rendered == book.contracts else '_estimated'}", whole, "s"
    _clean_up(policyholder, book.month, sequence_before)


def _beside_the_superuser(
    book: Book,
    policyholder: Organisation,
    contract_ids: list[uuid.UUID],
    sequence_before: int | None,
    *,
    run_seconds: float,
    anchor_seconds: float,
) -> Iterator[Figure]:
    """The in-process run and its anchor again as the superuser, which PostgreSQL exempts from
    row-level security, in the same run of the benchmark (issue 15 §1): what the policies cost
    the write path (every line, invoice and audit row checked against its WITH CHECK, every
    read filtered)."""
    with as_superuser():
        run = services.billing_run_create(
            month=book.month, trigger=BillingRunTrigger.COMMAND, actor=None
        )
        start = time.perf_counter()
        run = services.billing_run_execute(run_id=run.pk)
        superuser_run = time.perf_counter() - start
        assert run.issued == book.contracts and run.failed == 0, (run.issued, run.failed)
        analyze_refilled()  # as before the ordinary role's anchor
        superuser_anchor, _ = _anchor(contract_ids, book.month, constraints=True)
        _purge("pdf")
        _clean_up(policyholder, book.month, sequence_before)
    yield "superuser.billing_run_without_pdfs", superuser_run, "s"
    yield "superuser.anchor_insert_select_lines", superuser_anchor, "s"
    yield "superuser.billing_run_vs_anchor", superuser_run / superuser_anchor, "x"
    for figure, rls, superuser in (
        ("billing_run_without_pdfs", run_seconds, superuser_run),
        ("anchor_insert_select_lines", anchor_seconds, superuser_anchor),
    ):
        yield (
            f"rls_cost.{figure}",
            rls_cost(rls=rls, superuser=superuser, higher_is_better=False),
            "%",
        )


def _book_figures(book: Book) -> Iterator[Figure]:
    """Every figure of one book: its bare SQL, the run in-process beside the bare INSERT …
    SELECT of the same lines (issue 15 §4), and the whole month with 1 and 2 workers."""
    start = time.perf_counter()
    policyholder, contract_ids = _bench_book(book)
    yield "setup_or_reuse_book", time.perf_counter() - start, "s"
    assert len(contract_ids) == book.contracts, len(contract_ids)
    year = business_today().year
    sequence_before = (
        InvoiceNumberSequence.objects.filter(year=year).values_list("last", flat=True).first()
    )
    _clean_up(policyholder, book.month, sequence_before)  # left by a killed bench

    bare_seconds, bare_total, bare_lines = _bare_aggregate(policyholder, book.month)
    # Every guarantee of the book overlaps its month: one line per contract and buyer.
    assert bare_lines == book.contracts * GUARANTEES and bare_total > 0, (bare_lines, bare_total)
    compute_seconds, compute_total = _computation_only(contract_ids, book.month)
    bare_again, _, _ = _bare_aggregate(policyholder, book.month)  # the cache is warm for both now
    bare_seconds = min(bare_seconds, bare_again)
    yield "bare_sql_aggregate_warm", bare_seconds, "s"
    yield "premium_computation", compute_seconds, "s"
    yield "premium_computation_vs_bare_sql", compute_seconds / bare_seconds, "x"

    run = services.billing_run_create(
        month=book.month, trigger=BillingRunTrigger.COMMAND, actor=None
    )
    start = time.perf_counter()
    run = services.billing_run_execute(run_id=run.pk)
    billing_seconds = time.perf_counter() - start
    yield "billing_run_without_pdfs", billing_seconds, "s"
    yield "invoices_issued", run.issued, "invoices"
    with scopes_disabled():
        issued = Invoice.objects.filter(policyholder=policyholder, month=book.month)
        premium = issued.aggregate(total=Sum("premium_total"))["total"] or Decimal("0")
        invoices = issued.count()
        # By invoice (its index): the run leaves the tables' statistics stale for a while.
        lines = InvoiceLine.objects.filter(invoice__in=issued.values("pk")).count()
        numbers = sorted(issued.filter(year=year).values_list("sequence", flat=True))
    yield "lines", lines, "lines"
    # The run, the Python computation and the bare SQL agree to the cent.
    yield "premium_total_eur", float(premium), "EUR"
    yield "premium_mismatch_vs_bare_sql_eur", float(abs(premium - bare_total)), "EUR"
    yield "premium_mismatch_vs_computation_eur", float(abs(premium - compute_total)), "EUR"
    assert run.issued == invoices == book.contracts and run.failed == 0, (run.issued, invoices)
    assert lines == bare_lines, (lines, bare_lines)
    assert premium == bare_total == compute_total, (premium, bare_total, compute_total)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), "numbers with gaps"

    # The anchor, in the same run of the benchmark: the same lines by one bare INSERT … SELECT
    # into a scratch table with the lines' indexes, foreign keys and row-level security. It
    # joins the invoices the run just wrote: with statistics that know them, so that the anchor
    # is the bare SQL at its best (with the month's invoices unknown, PostgreSQL planned the
    # 100 000 book's anchor into a spill that had not ended after 24 minutes).
    analyze_refilled()
    anchor_seconds, anchor_lines = _anchor(contract_ids, book.month, constraints=True)
    assert anchor_lines == lines, (anchor_lines, lines)
    yield "anchor_insert_select_lines", anchor_seconds, "s"
    yield "billing_run_vs_anchor", billing_seconds / anchor_seconds, "x"
    yield "billing_run_vs_anchor_target", ANCHOR_TARGET, "x"
    # The same without foreign keys and policies (indexes only): what a table without them
    # would cost, for the record.
    plain_seconds, _ = _anchor(contract_ids, book.month, constraints=False)
    yield "anchor_insert_select_lines_indexes_only", plain_seconds, "s"
    yield "billing_run_vs_anchor_indexes_only", billing_seconds / plain_seconds, "x"

    if book.contracts == CONTRACTS:
        # Whether time-ordered ids pay for themselves: the anchor with the run's UUID v7 ids.
        uuid7_seconds, _ = _anchor(
            contract_ids, book.month, constraints=True, ids=premium_sql.UUID7
        )
        yield "anchor_insert_select_lines_uuid7_ids", uuid7_seconds, "s"

    start = time.perf_counter()
    rerun = services.billing_run_execute(
        run_id=services.billing_run_create(
            month=book.month, trigger=BillingRunTrigger.COMMAND, actor=None
        ).pk
    )
    yield "rerun_everything_already_invoiced", time.perf_counter() - start, "s"
    assert rerun.issued == 0 and rerun.skipped == book.contracts
    _purge("pdf")
    _clean_up(policyholder, book.month, sequence_before)

    if book.contracts == CONTRACTS:
        yield from _beside_the_superuser(
            book,
            policyholder,
            contract_ids,
            sequence_before,
            run_seconds=billing_seconds,
            anchor_seconds=anchor_seconds,
        )

    for workers in WORKERS:
        yield from _whole_month(book, policyholder, sequence_before, workers)


@benchmark("billing")
def billing_month() -> Iterator[Figure]:
    """The 10 000-contract book; with BENCH_BILLING_BOOK=<contracts>, also a grown book (issue
    15 §6), each of its figures beside the 10 000 book's (`growth_<n>.<figure>`: linear is
    contracts / 10 000)."""
    build_demo_world()  # the insurer whose identity the invoices carry
    base: dict[str, float] = {}
    for figure, value, unit in _book_figures(Book(CONTRACTS)):
        base[figure] = value
        yield figure, value, unit
    grown = int(os.environ.get(BOOK_VARIABLE, "0") or 0)
    if grown and grown != CONTRACTS:
        prefix = f"book_{grown}"
        for figure, value, unit in _book_figures(Book(grown)):
            yield f"{prefix}.{figure}", value, unit
            if unit in {"s", "invoices", "lines"} and base.get(figure):
                yield f"growth_{grown}.{figure}", value / base[figure], "x"
        yield f"growth_{grown}.linear", grown / CONTRACTS, "x"

"""Billing figures: a month of 10 000 contracts × 100 guarantees, beside a bare SQL aggregate
over the same rows, and the PDF of a 100-line invoice (median, and throughput with two worker
processes).

The bench book lives in its own corner so the demo data stays believable: one bench
policyholder, 10 000 *terminated* contracts in force in January 2001 only, 100 bench buyers,
guarantee periods that all end by 1 February 2001. It is written once with COPY and reused.
The bench invoices are deleted afterwards and the year's number sequence is given back.

Under row-level security (the benchmarks' ordinary role), the book is written and the bare SQL
anchor runs inside `scopes_disabled()`, as the run itself does; the PDFs render in the
invoice's policyholder scope, as the render task does. The run's counts and totals are checked
against the bare SQL, so that rows hidden by a policy fail the benchmark instead of speeding
it up.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django_scopes import scopes_disabled
from stdnum import luhn

from benchmarks.database import copy_into_tenant_table
from benchmarks.registry import Figure, benchmark
from billing import premium_sql, services
from billing.models import (
    BillingRun,
    BillingRunTrigger,
    Invoice,
    InvoiceLine,
    InvoiceNumberSequence,
)
from billing.premium import month_after
from portal.demo import build_demo_world
from portal.models import AuditEvent, Organisation, OrganisationKind
from portal.tenancy import tenant_scope
from portal.timeutils import business_today
from underwriting.models import Buyer, Contract, ContractStatus, Guarantee, PremiumBasis

MONTH = date(2001, 1, 1)
CONTRACTS = 10_000
GUARANTEES = 100
BENCH_NAME = "Grossiste de banc d'essai (benchmark)"
PDF_RENDERS = 20
PDF_WORKER_INVOICES = 60


def _bench_siren(index: int) -> str:
    # 97…: the underwriting bench uses 98…, and both may live in the same database.
    base = f"{(97_000_000 + index * 7) % 100_000_000:08d}"
    return base + luhn.calc_check_digit(base)


def _period(contract: int, buyer: int) -> str:
    """Varied periods within January 2001 (31 days), all closed by 1 February 2001."""
    day = 1 + (contract + buyer) % 28
    match buyer % 4:
        case 0:
            return "[2000-06-01,2001-02-01)"  # the whole month
        case 1:
            return f"[2001-01-{day:02d},2001-02-01)"  # granted mid-month
        case 2:
            return f"[2000-12-01,2001-01-{day + 1:02d})"  # ended mid-month
        case _:
            return "[2001-01-05,2001-01-20)"  # a short seasonal limit


@transaction.atomic
def _bench_book() -> tuple[Organisation, list[uuid.UUID]]:
    """The bench policyholder and its contracts, created with COPY the first time only."""
    with scopes_disabled():  # tenant rows of one policyholder, written outside any request
        return _bench_book_unscoped()


def _bench_book_unscoped() -> tuple[Organisation, list[uuid.UUID]]:
    policyholder, _ = Organisation.objects.get_or_create(
        kind=OrganisationKind.POLICYHOLDER,
        name=BENCH_NAME,
        defaults={"address": "1 rue du Banc d'Essai\n75000 Paris"},
    )
    contract_ids = list(
        Contract.objects.filter(policyholder=policyholder)
        .order_by("number")
        .values_list("pk", flat=True)
    )
    if len(contract_ids) == CONTRACTS and (
        Guarantee.objects.filter(policyholder=policyholder).count() == CONTRACTS * GUARANTEES
    ):
        return policyholder, contract_ids
    Guarantee.objects.filter(policyholder=policyholder).delete()
    Invoice.objects.filter(policyholder=policyholder).delete()
    Contract.objects.filter(policyholder=policyholder).delete()

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
    contract_ids = [uuid.uuid4() for _ in range(CONTRACTS)]
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
                        f"BENCH-{i + 1:06d}",
                        "Allianz Trade",
                        f"BENCH-AT-{i + 1:06d}",
                        ContractStatus.TERMINATED,
                        date(2000, 6, 1),
                        date(2001, 1, 31),
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
                            _period(i, j),
                            "grant",
                            now,
                            "",
                        )
                    )
        cursor.execute(f"ANALYZE {Guarantee._meta.db_table}")
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


def _bare_aggregate(policyholder: Organisation) -> tuple[float, Decimal, int]:
    start = time.perf_counter()
    # Under the same policies as the run: the insurer-wide scope it bills in.
    with scopes_disabled(), connection.cursor() as cursor:
        cursor.execute(
            BARE_SQL,
            {"first": MONTH, "next": month_after(MONTH), "policyholder": policyholder.pk},
        )
        total, lines = cursor.fetchone()
    return time.perf_counter() - start, total, lines


def _computation_only(contract_ids: list[uuid.UUID]) -> tuple[float, Decimal]:
    """The premium computation of the run alone: the same SQL, per group of contracts, without
    writing invoices (each group's transaction is rolled back)."""
    start = time.perf_counter()
    total = Decimal("0")
    for begin in range(0, len(contract_ids), services.COMMIT_EVERY):
        group = contract_ids[begin : begin + services.COMMIT_EVERY]
        with scopes_disabled(), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(premium_sql.DROP_WORK)
            cursor.execute(
                premium_sql.CREATE_WORK,
                {
                    "first": MONTH,
                    "next": month_after(MONTH),
                    "days_in_month": 31,
                    "contracts": group,
                },
            )
            cursor.execute(premium_sql.SUMS)
            total += sum((amount for _, amount in cursor.fetchall()), Decimal("0"))
            transaction.set_rollback(True)
    return time.perf_counter() - start, total


def _clean_up(policyholder: Organisation, sequence_before: int | None) -> None:
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
        bench.filter(kind="credit_note").delete()
        bench.delete()
        runs = BillingRun.objects.filter(month=MONTH)
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


def _purge_render_queue() -> None:
    """The bench does not render 10 000 PDFs: drop the render tasks it enqueued."""
    from unlockplus.celery import app

    app.control.purge()


@benchmark("billing")
def billing_month() -> Iterator[Figure]:
    build_demo_world()  # the insurer whose identity the invoices carry
    start = time.perf_counter()
    policyholder, contract_ids = _bench_book()
    yield "setup_or_reuse_book", time.perf_counter() - start, "s"
    assert len(contract_ids) == CONTRACTS, len(contract_ids)
    year = business_today().year
    sequence_before = (
        InvoiceNumberSequence.objects.filter(year=year).values_list("last", flat=True).first()
    )

    bare_seconds, bare_total, bare_lines = _bare_aggregate(policyholder)
    yield "bare_sql_aggregate", bare_seconds, "s"
    # Every guarantee of the book overlaps January 2001: one line per contract and buyer.
    assert bare_lines == CONTRACTS * GUARANTEES and bare_total > 0, (bare_lines, bare_total)
    compute_seconds, compute_total = _computation_only(contract_ids)
    bare_again, _, _ = _bare_aggregate(policyholder)  # the cache is warm for both now
    bare_seconds = min(bare_seconds, bare_again)
    yield "bare_sql_aggregate_warm", bare_seconds, "s"
    yield "premium_computation", compute_seconds, "s"
    yield "premium_computation_vs_bare_sql", compute_seconds / bare_seconds, "x"

    run = services.billing_run_create(month=MONTH, trigger=BillingRunTrigger.COMMAND, actor=None)
    start = time.perf_counter()
    run = services.billing_run_execute(run_id=run.pk)
    billing_seconds = time.perf_counter() - start
    yield "billing_run_10000x100_without_pdfs", billing_seconds, "s"
    yield "billing_run_vs_bare_sql", billing_seconds / bare_seconds, "x"
    yield "invoices_issued", run.issued, "invoices"
    with scopes_disabled():
        issued = Invoice.objects.filter(policyholder=policyholder, month=MONTH)
        premium = issued.aggregate(total=Sum("premium_total"))["total"] or Decimal("0")
        invoices = issued.count()
        # By invoice (its index): the run leaves the tables' statistics stale for a while.
        lines = InvoiceLine.objects.filter(invoice__in=issued.values("pk")).count()
    yield "lines", lines, "lines"
    # The run, the Python computation and the bare SQL agree to the cent.
    yield "premium_total_eur", float(premium), "EUR"
    yield "premium_mismatch_vs_bare_sql_eur", float(abs(premium - bare_total)), "EUR"
    yield "premium_mismatch_vs_computation_eur", float(abs(premium - compute_total)), "EUR"
    assert run.issued == invoices == CONTRACTS and run.failed == 0, (run.issued, invoices)
    assert lines == bare_lines, (lines, bare_lines)
    assert premium == bare_total == compute_total, (premium, bare_total, compute_total)

    start = time.perf_counter()
    rerun = services.billing_run_execute(
        run_id=services.billing_run_create(
            month=MONTH, trigger=BillingRunTrigger.COMMAND, actor=None
        ).pk
    )
    yield "rerun_everything_already_invoiced", time.perf_counter() - start, "s"
    assert rerun.issued == 0 and rerun.skipped == CONTRACTS

    yield from _pdf_figures(policyholder)
    _purge_render_queue()
    _clean_up(policyholder, sequence_before)


def _hundred_line_invoice(policyholder: Organisation) -> Invoice:
    with scopes_disabled():
        invoice = (
            Invoice.objects.filter(policyholder=policyholder, month=MONTH)
            .order_by("sequence")
            .first()
        )
    if invoice is None:
        raise LookupError(f"no invoice for {MONTH:%Y-%m}: the run above issued none")
    return invoice


def _render_many(invoice_ids: list[str]) -> int:
    """A worker process: render each invoice's PDF (without storing it)."""
    import django

    django.setup()
    from django.db import connections

    from billing.pdf import invoice_pdf_render

    connections.close_all()
    # As the render task: the tenant read in the named bypass, the render in its scope.
    with scopes_disabled():
        owners = dict(Invoice.objects.filter(pk__in=invoice_ids).values_list("pk", "policyholder"))
    for invoice_id, policyholder_id in owners.items():
        with tenant_scope([policyholder_id]):
            invoice_pdf_render(invoice=Invoice.objects.get(pk=invoice_id))
    return len(owners)


def _pdf_figures(policyholder: Organisation) -> Iterator[Figure]:
    from billing.pdf import invoice_pdf_render

    invoice = _hundred_line_invoice(policyholder)
    with tenant_scope([policyholder.pk]):  # the render task's scope
        yield "pdf_invoice_lines", invoice.lines.count(), "lines"
        samples = []
        first = invoice_pdf_render(invoice=invoice)
        for _ in range(PDF_RENDERS):
            start = time.perf_counter()
            content = invoice_pdf_render(invoice=invoice)
            samples.append(time.perf_counter() - start)
            assert content == first  # deterministic bytes
        assert invoice.lines.count() == GUARANTEES
        ids = [
            str(pk)
            for pk in Invoice.objects.filter(policyholder=policyholder, month=MONTH)
            .order_by("sequence")
            .values_list("pk", flat=True)[:PDF_WORKER_INVOICES]
        ]
    yield "pdf_100_lines.median", statistics.median(samples), "s"
    yield "pdf_100_lines.max", max(samples), "s"
    yield "pdf_bytes", len(first), "bytes"

    connection.close()  # no connection shared with forked workers
    for workers in (1, 2):
        start = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            rendered = sum(pool.map(_render_many, [ids[i::workers] for i in range(workers)]))
        assert rendered == len(ids), (rendered, len(ids))
        yield (
            f"pdf_throughput_{workers}_worker",
            rendered / (time.perf_counter() - start),
            ("invoices/s"),
        )

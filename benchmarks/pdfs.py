"""Month-end PDF figures (issue 15 §3 and §5): the render time of a 10-, 100- and 1 000-line
invoice, and the bench month's PDFs rendered and stored by 1 and by 2 worker processes, against
the target of the month's 10 000 PDFs in under 15 minutes.

The bench book is the billing benchmark's (benchmarks/billing.py: 10 000 contracts × 100
guarantees, January 2001), billed in-process first; its invoices have 100 lines each. The 10-
and 1 000-line figures render a bench invoice with the first 10 of its lines, or its 100 lines
ten times over (same template, same code path, only the lines differ).

The whole-month figures run real Celery workers (`celery worker -P solo`, one process each) on
the `pdf` queue, fed as production feeds them: `invoice_pdfs_fan_out`, batch tasks of
PDF_BATCH invoices that render and store. BENCH_PDF_MONTH_SAMPLE invoices are rendered (default
1 000; 0: every invoice of the month) and the month is projected at the measured pace. The
machine is shared: beside the wall-clock figures, the renders' CPU time (`cpu_median`; the
workers' CPU per PDF) and the month it implies with each worker on a core of its own
(`_cpu_bound`), and the load average the figures were taken under.

The 2-worker month is measured again with the workers connected as the superuser, which
PostgreSQL exempts from row-level security (`superuser.month_2_worker.*`, and
`rls_cost.month_2_worker` in %): what the policies cost the tasks' reads and the PDFs' writes.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Iterator
from datetime import date

from django_scopes import scopes_disabled

from benchmarks.billing import (
    CONTRACTS,
    Book,
    _bench_book,
    _clean_up,
    _purge,
    _workers,
    analyze_refilled,
    pdfs_fanned_out_and_stored,
)
from benchmarks.database import rls_cost
from benchmarks.registry import Figure, benchmark
from billing import services
from billing.models import (
    BillingRunTrigger,
    Invoice,
    InvoiceNumberSequence,
    InvoicePdf,
)
from billing.pdf import invoice_pdf_render
from portal.demo import build_demo_world
from portal.models import Organisation
from portal.tenancy import tenant_scope
from portal.timeutils import business_today

RENDERS = {10: 20, 100: 20, 1000: 5}  # lines → timed renders
MONTH_SAMPLE = int(os.environ.get("BENCH_PDF_MONTH_SAMPLE", "1000"))
TARGET_MINUTES = 15.0
WORKERS = (1, 2)


def _render_figures(policyholder: Organisation, month: date) -> Iterator[Figure]:
    with scopes_disabled():
        invoice = (
            Invoice.objects.filter(policyholder=policyholder, month=month)
            .select_related("contract")
            .order_by("sequence")
            .first()
        )
    assert invoice is not None, "the bench month issued no invoice"
    with tenant_scope([policyholder.pk]):  # the render task's scope
        lines = list(invoice.lines.order_by("position"))
        assert len(lines) == 100, len(lines)
        for count, repeat in RENDERS.items():
            chosen = (lines * (count // len(lines) + 1))[:count]
            first = invoice_pdf_render(invoice=invoice, lines=chosen)  # warm the process
            samples, cpu = [], []
            for _ in range(repeat):
                start, start_cpu = time.perf_counter(), time.process_time()
                content = invoice_pdf_render(invoice=invoice, lines=chosen)
                samples.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
                assert content == first, "the same invoice rendered to other bytes"
            yield f"render_{count}_lines.median", statistics.median(samples), "s"
            # The process's own CPU time: what the render costs on a machine not shared.
            yield f"render_{count}_lines.cpu_median", statistics.median(cpu), "s"
            yield f"render_{count}_lines.bytes", len(first), "bytes"


def _month_figures(
    policyholder: Organisation,
    month: date,
    workers: int,
    projections: dict[str, float],
    *,
    superuser: bool = False,
) -> Iterator[Figure]:
    with scopes_disabled():
        invoices = Invoice.objects.filter(policyholder=policyholder, month=month)
        ids = [str(pk) for pk in invoices.order_by("sequence").values_list("pk", flat=True)]
        month_invoices = len(ids)
        ids = ids[:MONTH_SAMPLE] if MONTH_SAMPLE else ids
        InvoicePdf.objects.filter(invoice__in=invoices).delete()  # left by the other figure
    _purge("pdf")
    # The workers are this process's children, waited for when `_workers` stops them: their CPU
    # time (start-up included; PostgreSQL's not) is what the renders cost on a machine not shared.
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with _workers(workers, "pdf", superuser=superuser):
        seconds = pdfs_fanned_out_and_stored(ids)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = sum(
        getattr(children, field) - getattr(children_before, field)
        for field in ("ru_utime", "ru_stime")
    )
    with scopes_disabled():  # stored once each, and the bytes are the render's
        assert InvoicePdf.objects.filter(invoice_id__in=ids).count() == len(ids)
        sample = Invoice.objects.select_related("contract", "pdf").get(pk=ids[-1])
    with tenant_scope([policyholder.pk]):
        assert bytes(sample.pdf.content) == invoice_pdf_render(invoice=sample)
    per_second = len(ids) / seconds
    prefix = f"{'superuser.' if superuser else ''}month_{workers}_worker"
    yield f"{prefix}.load_average_1min", os.getloadavg()[0], "processes"  # the shared machine
    yield f"{prefix}.pdfs_rendered", len(ids), "pdfs"
    yield f"{prefix}.seconds", seconds, "s"
    yield f"{prefix}.throughput", per_second, "pdfs/s"
    measured = len(ids) == month_invoices
    minutes = (seconds if measured else month_invoices / per_second) / 60
    yield f"{prefix}.month_{month_invoices}_pdfs{'' if measured else '_projected'}", minutes, "min"
    projections[f"{prefix}.month"] = minutes
    yield f"{prefix}.worker_cpu_per_pdf", cpu_seconds / len(ids), "s"
    # The month at that CPU cost with each worker on a core of its own (the machine not shared).
    idle_minutes = month_invoices * cpu_seconds / len(ids) / min(workers, os.cpu_count() or 1) / 60
    yield f"{prefix}.month_{month_invoices}_pdfs_cpu_bound", idle_minutes, "min"
    projections[f"{prefix}.month_cpu_bound"] = idle_minutes


@benchmark("pdfs")
def pdfs_month() -> Iterator[Figure]:
    build_demo_world()  # the insurer whose identity the invoices carry
    book = Book(CONTRACTS)
    start = time.perf_counter()
    policyholder, contract_ids = _bench_book(book)
    yield "setup_or_reuse_book", time.perf_counter() - start, "s"
    year = business_today().year
    sequence_before = (
        InvoiceNumberSequence.objects.filter(year=year).values_list("last", flat=True).first()
    )
    _clean_up(policyholder, book.month, sequence_before)  # left by a killed bench
    run = services.billing_run_create(
        month=book.month, trigger=BillingRunTrigger.COMMAND, actor=None
    )
    run = services.billing_run_execute(run_id=run.pk)
    assert run.issued == len(contract_ids) and run.failed == 0, (run.issued, run.failed)
    analyze_refilled()
    _purge("pdf")  # the run's render kicks: the PDFs are measured below
    yield "invoices", run.issued, "invoices"
    yield "cores", float(os.cpu_count() or 0), "cores"
    yield "load_average_1min", os.getloadavg()[0], "processes"  # 2 cores: above 2 is queueing
    try:
        yield from _render_figures(policyholder, book.month)
        projections: dict[str, float] = {}
        for workers in WORKERS:
            yield from _month_figures(policyholder, book.month, workers, projections)
        # The same sample on 2 workers connected as the superuser, which PostgreSQL exempts
        # from row-level security (issue 15 §1): what the policies cost the tasks' reads of
        # the invoice and its lines and the PDF's write. (The single renders above run no
        # query: the invoice and its lines are read before the clock starts.)
        yield from _month_figures(
            policyholder, book.month, WORKERS[-1], projections, superuser=True
        )
        rls, superuser = (
            projections[f"{prefix}month_{WORKERS[-1]}_worker.month"]
            for prefix in ("", "superuser.")
        )
        yield (
            f"rls_cost.month_{WORKERS[-1]}_worker",
            rls_cost(rls=rls, superuser=superuser, higher_is_better=False),
            "%",
        )
        yield "month_target", TARGET_MINUTES, "min"
        # Met or not, on the wall clock of this (shared) machine and at the workers' CPU cost.
        for name, minutes in projections.items():
            if name.startswith("superuser."):
                continue
            met = minutes < TARGET_MINUTES
            yield f"target_{name}", float(met), "met" if met else "NOT met"
        yield "load_average_1min_at_end", os.getloadavg()[0], "processes"
    finally:
        _purge("pdf")
        _clean_up(policyholder, book.month, sequence_before)

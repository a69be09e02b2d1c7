"""Rendering the PDFs in batches, and the sweep: an issued document without a stored PDF is a
render still to do.

Renders are kicked after the issuing commit (`invoices.render_after_commit`), the fast path: a
month-end group of 200 invoices fans out as independent batch tasks of PDF_BATCH invoices on the
`pdf` queue, so the month's renders spread over every PDF worker process, and a retried batch
redoes little. A kick can be lost: the process killed between commit and enqueue, the broker down
or restarted without its queue. Beat then finds the invoices and credit notes issued more than a
grace period ago with no stored PDF and enqueues their renders, a bounded number per sweep, in
batches; rendering stores each PDF once (`invoice_pdf_store`), so a render enqueued twice costs
nothing: a batch skips what is already stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from django.utils import timezone
from django_scopes import scopes_disabled

from billing.models import Invoice
from billing.services.invoices import invoice_pdf_store
from portal.tenancy import tenant_scope

# The after-commit kick renders a group within seconds of its commit: the sweep leaves it that.
SWEEP_GRACE = timedelta(seconds=60)
# What the sweep reads, by the index on `issued_at`: a month-end run and the month after it.
# An older invoice still without its PDF (workers down for weeks) is rendered when downloaded.
SWEEP_WINDOW = timedelta(days=45)
SWEEP_LIMIT = 2000  # renders enqueued per sweep at most
# Invoices per render task: ~5 s of a worker at 100 lines each; enough to share the fonts and the
# stylesheet of the process and the queries, small enough to spread a month over the workers.
PDF_BATCH = 50


def invoices_without_pdf(
    *, older_than: timedelta = SWEEP_GRACE, limit: int = SWEEP_LIMIT
) -> list[UUID]:
    """Invoices and credit notes issued more than `older_than` ago (and within the window)
    whose PDF is not stored, oldest first."""
    now = timezone.now()
    with scopes_disabled():  # every policyholder's documents
        return list(
            Invoice.objects.filter(
                issued_at__lte=now - older_than,
                issued_at__gte=now - SWEEP_WINDOW,
                pdf__isnull=True,
            )
            .order_by("issued_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )


def invoice_pdfs_sweep(*, older_than: timedelta = SWEEP_GRACE, limit: int = SWEEP_LIMIT) -> int:
    """Enqueue the renders whose kick was lost; returns how many invoices were enqueued."""
    pending = [
        str(invoice_id) for invoice_id in invoices_without_pdf(older_than=older_than, limit=limit)
    ]
    invoice_pdfs_fan_out(invoice_ids=pending)
    return len(pending)


def invoice_pdfs_fan_out(*, invoice_ids: Sequence[str]) -> int:
    """Enqueue the renders of `invoice_ids` as independent batch tasks; returns how many."""
    from billing.tasks import invoice_render_pdfs

    batches = [
        list(invoice_ids[start : start + PDF_BATCH])
        for start in range(0, len(invoice_ids), PDF_BATCH)
    ]
    for batch in batches:
        invoice_render_pdfs.delay(invoice_ids=batch)
    return len(batches)


def invoice_pdfs_store(*, invoice_ids: Sequence[str | UUID]) -> int:
    """Render and store the PDFs of `invoice_ids` not stored yet, each in its policyholder's
    scope; returns how many were without a PDF. Idempotent: a PDF stored meanwhile (by another
    batch, the sweep, a download) is found under the invoice's row lock and kept."""
    with scopes_disabled():  # the tenants are not known before the invoices are read
        owners = Invoice.objects.filter(pk__in=invoice_ids, pdf__isnull=True).values_list(
            "pk", "policyholder_id"
        )
        by_policyholder: dict[UUID, list[UUID]] = defaultdict(list)
        for invoice_id, policyholder_id in owners:
            by_policyholder[policyholder_id].append(invoice_id)
    for policyholder_id, ids in sorted(by_policyholder.items()):
        with tenant_scope([policyholder_id]):
            invoices = (
                Invoice.objects.filter(pk__in=ids)
                .select_related("contract", "credits")
                .order_by("issued_at", "pk")
            )
            for invoice in invoices:
                invoice_pdf_store(invoice=invoice)
    return sum(len(ids) for ids in by_policyholder.values())

"""Rendering the PDFs in batches, and the sweep: an issued document without a stored PDF is a
render still to do.

Renders are kicked after the issuing commit (`invoices.render_after_commit`), the fast path: a
month-end group of 200 invoices fans out as independent batch tasks of PDF_BATCH invoices on the
`pdf` queue, so the month's renders spread over every PDF worker process, and a retried batch
redoes little. A kick can be lost: the process killed between commit and enqueue, the broker down
or restarted without its queue. Beat then finds the invoices and credit notes issued more than a
grace period ago with no stored PDF and enqueues their renders, a bounded number per sweep, in
batches; rendering stores each PDF once (under the invoice's row lock), so a render enqueued
twice costs nothing: a batch skips what is already stored.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from billing.models import Invoice, InvoicePdf
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


def _render_and_store(invoice: Invoice) -> bool:
    """Render and store the PDF of `invoice` unless it is stored; True when this call stored it.

    Renderers of one invoice take turns on its row (`FOR NO KEY UPDATE`: issuing a credit note
    against it, which only references it, is not held up), so the after-commit kick, the sweep
    and a first download racing each other render it once: the others find it stored.
    """
    from billing.pdf import invoice_pdf_render

    with transaction.atomic():
        list(
            Invoice.objects.select_for_update(no_key=True)
            .filter(pk=invoice.pk)
            .values_list("pk", flat=True)
        )
        if InvoicePdf.objects.filter(invoice=invoice).exists():
            return False
        content = invoice_pdf_render(invoice=invoice)
        # The unique invoice is the backstop: a conflicting row would be the same bytes.
        InvoicePdf.objects.bulk_create(
            [
                InvoicePdf(
                    policyholder_id=invoice.policyholder_id,
                    invoice=invoice,
                    content=content,
                    sha256=hashlib.sha256(content).hexdigest(),
                    rendered_at=timezone.now(),
                )
            ],
            ignore_conflicts=True,
        )
    return True


def invoice_pdf_store(*, invoice: Invoice) -> InvoicePdf:
    """Render the PDF of `invoice` once and store it; later calls return the stored bytes."""
    existing = InvoicePdf.objects.filter(invoice=invoice).first()
    if existing is None:
        _render_and_store(invoice)
        existing = InvoicePdf.objects.get(invoice=invoice)
    return existing


def invoice_pdfs_store(*, invoice_ids: Sequence[str | UUID]) -> int:
    """Render and store the PDFs of `invoice_ids` not stored yet, each in its policyholder's
    scope; returns how many this call stored. Idempotent: a PDF stored meanwhile (by another
    batch, the sweep, a download) is found under the invoice's row lock and kept. The batch
    neither reads the stored bytes back nor looks for them before the lock: it chose invoices
    without a PDF."""
    with scopes_disabled():  # the tenants are not known before the invoices are read
        owners = Invoice.objects.filter(pk__in=invoice_ids, pdf__isnull=True).values_list(
            "pk", "policyholder_id"
        )
        by_policyholder: dict[UUID, list[UUID]] = defaultdict(list)
        for invoice_id, policyholder_id in owners:
            by_policyholder[policyholder_id].append(invoice_id)
    stored = 0
    for policyholder_id, ids in sorted(by_policyholder.items()):
        with tenant_scope([policyholder_id]):
            invoices = (
                Invoice.objects.filter(pk__in=ids)
                .select_related("contract", "credits")
                .order_by("issued_at", "pk")
            )
            stored += sum(_render_and_store(invoice) for invoice in invoices)
    return stored

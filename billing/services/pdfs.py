"""The PDF sweep: an issued document without a stored PDF is a render still to do.

Renders are kicked after the issuing commit (`invoices.render_after_commit`), the fast path. A
kick can be lost: the process killed between commit and enqueue, the broker down or restarted
without its queue. Beat then finds the invoices and credit notes issued more than a grace period
ago with no stored PDF and enqueues their renders, a bounded number per sweep, in groups;
rendering stores each PDF once (`invoice_pdf_store`), so a render enqueued twice costs nothing.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from django.utils import timezone
from django_scopes import scopes_disabled

from billing.models import Invoice

# The after-commit kick renders a group within seconds of its commit: the sweep leaves it that.
SWEEP_GRACE = timedelta(seconds=60)
# What the sweep reads, by the index on `issued_at`: a month-end run and the month after it.
# An older invoice still without its PDF (workers down for weeks) is rendered when downloaded.
SWEEP_WINDOW = timedelta(days=45)
SWEEP_LIMIT = 2000  # renders enqueued per sweep at most
SWEEP_GROUP = 200  # invoices per render task, as the runs enqueue them


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
    from billing.tasks import invoice_render_pdfs

    pending = [
        str(invoice_id) for invoice_id in invoices_without_pdf(older_than=older_than, limit=limit)
    ]
    for start in range(0, len(pending), SWEEP_GROUP):
        invoice_render_pdfs.delay(invoice_ids=pending[start : start + SWEEP_GROUP])
    return len(pending)

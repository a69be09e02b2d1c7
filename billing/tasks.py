"""Billing tasks: they take ids, enter the scope they need explicitly and are idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django_scopes import scopes_disabled

from billing import services
from billing.models import BillingRunTrigger, Invoice
from billing.premium import month_before, month_first
from portal.timeutils import business_today
from unlockplus.celery import RETRY_TRANSIENT

logger = logging.getLogger(__name__)


@shared_task(**RETRY_TRANSIENT)
def billing_run_month() -> str:
    """Beat, the 1st at night: bill the month before. A duplicate beat runs a second pass
    that finds every contract already invoiced and changes nothing."""
    month = month_before(month_first(business_today()))
    run = services.billing_run_create(month=month, trigger=BillingRunTrigger.BEAT, actor=None)
    run = services.billing_run_execute(run_id=run.pk)
    return f"{run.month:%Y-%m}: {run.issued} issued, {run.skipped} skipped, {run.failed} failed"


@shared_task(**RETRY_TRANSIENT)
def billing_run_execute_task(*, run_id: str) -> str:
    """Started from the finance page or the API; a redelivered task re-executes the same run."""
    run = services.billing_run_execute(run_id=run_id)
    return f"{run.month:%Y-%m}: {run.issued} issued, {run.skipped} skipped, {run.failed} failed"


@shared_task(**RETRY_TRANSIENT)
def invoice_render_pdfs(*, invoice_ids: list[str]) -> None:
    """The PDFs of one committed group; a redelivered task skips those already stored."""
    for invoice_id in invoice_ids:
        invoice_render_pdf(invoice_id=invoice_id)


@shared_task(**RETRY_TRANSIENT)
def invoice_render_pdf(*, invoice_id: str) -> None:
    # The invoice's tenant is not known before it is loaded: read it in the named bypass,
    # then render within that one policyholder's scope.
    with scopes_disabled():
        policyholder_id = (
            Invoice.objects.filter(pk=invoice_id).values_list("policyholder_id", flat=True).first()
        )
    if policyholder_id is None:
        logger.warning("invoice %s vanished before its PDF was rendered", invoice_id)
        return
    from portal.tenancy import tenant_scope

    with tenant_scope([policyholder_id]):
        services.invoice_pdf_store(invoice=Invoice.objects.get(pk=invoice_id))

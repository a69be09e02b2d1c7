"""Billing tasks: they take ids, enter the scope they need explicitly and are idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django_scopes import scopes_disabled

from billing import services
from billing.models import ACTIVE_RUN_STATUSES, BillingRun, BillingRunTrigger
from billing.premium import month_before, month_first
from portal.timeutils import business_today
from unlockplus.celery import RETRY_TRANSIENT, TRANSIENT_ERRORS

logger = logging.getLogger(__name__)


@shared_task(**RETRY_TRANSIENT)
def billing_run_month() -> str:
    """Beat, the 1st at night: bill the month before. A redelivered or retried message resumes
    the month's unfinished beat run; a duplicate beat after it finished runs a second pass that
    finds every contract already invoiced and changes nothing."""
    month = month_before(month_first(business_today()))
    with scopes_disabled():  # runs are insurer-wide rows
        unfinished = (
            BillingRun.objects.filter(
                month=month, trigger=BillingRunTrigger.BEAT, status__in=ACTIVE_RUN_STATUSES
            )
            .order_by("created_at")
            .first()
        )
    run = unfinished or services.billing_run_create(
        month=month, trigger=BillingRunTrigger.BEAT, actor=None
    )
    return _summary(services.billing_run_dispatch(run_id=run.pk))


def _summary(run: BillingRun) -> str:
    return (
        f"{run.month:%Y-%m} {run.status}: {run.issued} issued, {run.skipped} skipped, "
        f"{run.failed} failed"
    )


@shared_task(**RETRY_TRANSIENT)
def billing_run_execute_task(*, run_id: str) -> str:
    """Started from the finance page, the API or the supervisor. Fans the run out, from where
    it stopped, as one task per group of contracts (`billing_run_group_task`) for every billing
    worker to take; a finished run, or one another worker is dispatching, is left as it is."""
    return _summary(services.billing_run_dispatch(run_id=run_id))


@shared_task(
    **{**RETRY_TRANSIENT, "autoretry_for": (*TRANSIENT_ERRORS, services.RunBusy)},
)
def billing_run_group_task(*, group_id: str) -> None:
    """One group of a fanned-out run, once (a duplicate finds it done); the group that finds
    none left closes the run."""
    services.billing_run_group_execute(group_id=group_id)


@shared_task(**RETRY_TRANSIENT)
def billing_run_supervise() -> int:
    """Beat, every few minutes: resume (or close) the runs whose heartbeat stopped."""
    return len(services.billing_runs_supervise())


@shared_task(**RETRY_TRANSIENT)
def invoice_reminders_send_task() -> int:
    """Beat, daily: the reminders of unpaid invoices whose day has come, once each."""
    return services.invoice_reminders_send()


@shared_task(**RETRY_TRANSIENT)
def invoice_render_pdfs(*, invoice_ids: list[str]) -> int:
    """The PDFs of a batch, those already stored skipped. A committed group of a billing run
    (more than a batch) fans out as independent batch tasks, so that every PDF worker process
    takes a share of the month."""
    if len(invoice_ids) > services.PDF_BATCH:
        services.invoice_pdfs_fan_out(invoice_ids=invoice_ids)
        return 0
    return services.invoice_pdfs_store(invoice_ids=invoice_ids)


@shared_task(**RETRY_TRANSIENT)
def invoice_render_sweep() -> int:
    """Beat, every minute, on the PDF queue: enqueue the renders whose kick was lost. Behind a
    backlog of renders its message expires (beat's `expires`) rather than enqueue them twice."""
    return services.invoice_pdfs_sweep()


@shared_task(**RETRY_TRANSIENT)
def invoice_render_pdf(*, invoice_id: str) -> int:
    """One invoice's PDF (a batch of one): the tenant is read from the invoice, then the render
    runs within that one policyholder's scope."""
    return services.invoice_pdfs_store(invoice_ids=[invoice_id])

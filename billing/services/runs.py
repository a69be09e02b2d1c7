"""Billing runs: every contract of a month, issued in groups, one transaction per group."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from uuid import UUID

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_scopes import scopes_disabled

from billing import selectors
from billing.events import BillingEvent
from billing.models import BillingRun, BillingRunFailure, BillingRunStatus
from billing.services.invoices import (
    Issuer,
    billable_month,
    invoice_issue,
    issue_invoices,
    issuer_details,
)
from portal.events import event_record
from portal.models import User
from underwriting.models import Contract

logger = logging.getLogger(__name__)

RUN_BATCH = 2000  # contracts loaded at a time
COMMIT_EVERY = 200  # contracts issued set-based per transaction


@transaction.atomic
def billing_run_create(*, month: date, trigger: str, actor: User | None) -> BillingRun:
    run = BillingRun.objects.create(
        month=billable_month(month),
        trigger=trigger,
        started_by=actor if actor is not None and actor.pk else None,
    )
    event_record(
        action=BillingEvent.RUN_CREATED,
        actor=actor,
        obj=run,
        data={"month": f"{run.month:%Y-%m}"},
    )
    return run


@transaction.atomic(durable=True)
def billing_run_start(*, month: date, trigger: str, actor: User | None) -> BillingRun:
    """Record a run and have a worker execute it once the record is committed."""
    from billing.tasks import billing_run_execute_task

    run = billing_run_create(month=month, trigger=trigger, actor=actor)
    run_id = str(run.pk)
    transaction.on_commit(lambda: billing_run_execute_task.delay(run_id=run_id), robust=True)
    return run


def _chunks(items: list[UUID], size: int) -> Iterator[list[UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record_failure(*, run: BillingRun, contract: Contract, error: Exception) -> None:
    logger.exception("billing run %s: contract %s failed", run.pk, contract.number)
    BillingRunFailure.objects.create(
        run=run,
        contract=contract,
        contract_number=contract.number,
        message=f"{type(error).__name__}: {error}"[:2000],
    )
    BillingRun.objects.filter(pk=run.pk).update(failed=F("failed") + 1, updated_at=timezone.now())


def billing_run_execute(*, run_id: UUID | str) -> BillingRun:
    """Bill every contract in force in the run's month that has no invoice for it yet.

    Not one transaction: contracts are issued in groups of COMMIT_EVERY, one transaction each,
    so a failing contract is recorded on the run and the others go on, and a run killed halfway
    leaves whole invoices only.
    Executing a run again (a retried task) starts its counters afresh and bills what is missing.
    """
    with scopes_disabled():  # a run bills every policyholder: the insurer-wide scope
        run = BillingRun.objects.get(pk=run_id)
        contract_ids = list(
            selectors.contracts_to_bill(month=run.month).values_list("pk", flat=True)
        )
        now = timezone.now()
        BillingRunFailure.objects.filter(run=run).delete()
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRunStatus.RUNNING,
            started_at=now,
            updated_at=now,
            finished_at=None,
            total=len(contract_ids),
            issued=0,
            skipped=0,
            failed=0,
            error="",
        )
        try:
            issuer = issuer_details()
            for batch in _chunks(contract_ids, RUN_BATCH):
                _bill_batch(run=run, contract_ids=batch, issuer=issuer)
        except Exception as error:
            BillingRun.objects.filter(pk=run.pk).update(
                status=BillingRunStatus.FAILED,
                finished_at=timezone.now(),
                error=f"{type(error).__name__}: {error}"[:2000],
            )
            raise
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRunStatus.FINISHED, finished_at=timezone.now()
        )
        run.refresh_from_db()
        event_record(
            action=BillingEvent.RUN_FINISHED,
            actor=None,
            obj=run,
            data={"issued": run.issued, "skipped": run.skipped, "failed": run.failed},
        )
    return run


def _bill_batch(*, run: BillingRun, contract_ids: list[UUID], issuer: Issuer) -> None:
    contracts = list(
        Contract.objects.filter(pk__in=contract_ids)
        .select_related("policyholder")
        .order_by("number")
    )
    # A group of contracts is issued set-based in one transaction. If anything in it fails,
    # the group rolls back and its contracts are issued one by one, each in its own savepoint,
    # so the failing contract is recorded on the run and the others go on. A kill loses at most
    # the uncommitted group, which the next run issues again.
    for start in range(0, len(contracts), COMMIT_EVERY):
        group = contracts[start : start + COMMIT_EVERY]
        try:
            with transaction.atomic():
                issued = issue_invoices(
                    contracts=group, month=run.month, issuer=issuer, run=run, actor=None
                )
                _count_skipped(run=run, skipped=len(group) - len(issued))
        except Exception:  # noqa: BLE001 - isolate the culprit below
            logger.warning("billing run %s: a group failed, retrying contract by contract", run.pk)
            with transaction.atomic():
                _bill_one_by_one(run=run, contracts=group, issuer=issuer)


def _bill_one_by_one(*, run: BillingRun, contracts: list[Contract], issuer: Issuer) -> None:
    skipped = 0
    for contract in contracts:
        try:
            invoice = invoice_issue(contract=contract, month=run.month, issuer=issuer, run=run)
        except Exception as error:  # noqa: BLE001 - one contract must not stop the others
            _record_failure(run=run, contract=contract, error=error)
            continue
        if invoice is None:
            skipped += 1
    _count_skipped(run=run, skipped=skipped)


def _count_skipped(*, run: BillingRun, skipped: int) -> None:
    if skipped:
        BillingRun.objects.filter(pk=run.pk).update(
            skipped=F("skipped") + skipped, updated_at=timezone.now()
        )

"""Billing runs: every contract of a month, issued in groups, one transaction per group.

A run is resumable. Contracts are billed in number order; each group's transaction also writes
`resume_after` (its last contract) and the counters, recounted from rows: `issued` = the run's
invoices, `failed` = its failures, `skipped` = the contracts up to `resume_after` with neither
(invoiced earlier by another run, or nothing to bill). Nothing is accumulated by whoever
executes, so a redelivered message, a retry or a resumed execution cannot skew them.

One execution at a time per run: a session advisory lock keyed on the run, taken without
waiting; a second execution (a redelivered message, the supervisor's resume of a run that is
merely slow) returns at once without touching it. PostgreSQL drops the lock with the session,
so a killed process or a terminated connection frees the run for the next execution.
`billing_runs_supervise` (beat) resumes the runs whose heartbeat stopped, or closes them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from uuid import UUID

import psycopg
from django.conf import settings
from django.db import Error, InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django_scopes import scopes_disabled

from billing import selectors
from billing.events import BillingEvent
from billing.models import (
    ACTIVE_RUN_STATUSES,
    BillingRun,
    BillingRunFailure,
    BillingRunStatus,
    Invoice,
    InvoiceKind,
)
from billing.services.invoices import (
    Issuer,
    billable_month,
    invoice_issue,
    issue_invoices,
    issuer_details,
)
from portal.events import event_record
from portal.kick import kick_after_commit
from portal.models import User
from underwriting.models import Contract

logger = logging.getLogger(__name__)

RUN_BATCH = 2000  # contracts loaded at a time
COMMIT_EVERY = 200  # contracts issued set-based per transaction
# pg_try_advisory_lock(class, object): the class says "a billing run" ("bill"), the object
# is the run id hashed by PostgreSQL. A collision only makes two runs take turns.
RUN_LOCK_CLASS = 0x62696C6C
# A dropped or terminated database connection: the run stays `running`, the task's retry or
# the supervisor resumes it. Anything else marks the run failed.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


class _TakenOver(Exception):  # noqa: N818 - a signal, not an error
    """Another execution holds the run: this one lost its session (and the session's lock)."""


STOP_ERRORS: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, _TakenOver)


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
    """Record a run and have a worker execute it once the record is committed. A lost kick
    (broker down, process killed) leaves the run queued: the supervisor enqueues it."""
    from billing.tasks import billing_run_execute_task

    run = billing_run_create(month=month, trigger=trigger, actor=actor)
    kick_after_commit(billing_run_execute_task, run_id=str(run.pk))
    return run


def _enqueue(run_id: str) -> None:
    from billing.tasks import billing_run_execute_task

    billing_run_execute_task.delay(run_id=run_id)


@contextmanager
def _execution_lock(run_id: UUID | str) -> Iterator[bool]:
    """Whether this session now holds the run's lock (never waits for it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", [RUN_LOCK_CLASS, str(run_id)]
        )
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, hashtext(%s))",
                        [RUN_LOCK_CLASS, str(run_id)],
                    )
            except Error:
                pass  # the session is gone, and its lock with it


def _claim_group(run_id: UUID) -> None:
    """In each group's transaction: no other session holds the run (ours does, or nobody if our
    session was lost and Django connected again), and none can take it before this commits."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [RUN_LOCK_CLASS, str(run_id)]
        )
        if not cursor.fetchone()[0]:
            raise _TakenOver


def _chunks(items: list[UUID], size: int) -> Iterator[list[UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record_failure(*, run: BillingRun, contract: Contract, error: Exception) -> None:
    logger.exception("billing run %s: contract %s failed", run.pk, contract.number)
    BillingRunFailure.objects.update_or_create(
        run=run,
        contract=contract,
        defaults={
            "contract_number": contract.number,
            "message": f"{type(error).__name__}: {error}"[:2000],
        },
    )


def _remaining(run: BillingRun) -> QuerySet[Contract]:
    """The run's contracts not processed yet, in number order (compared by PostgreSQL, whose
    collation orders them)."""
    contracts = selectors.contracts_to_bill(month=run.month)
    if run.resume_after:
        contracts = contracts.filter(number__gt=run.resume_after)
    return contracts


def _recount(*, run_id: UUID, month: date, through: str | None) -> None:
    """Write the run's counters from rows, with a heartbeat. `through`: the last contract
    processed (None: all of them, the run is over)."""
    processed = selectors.contracts_to_bill(month=month).order_by()
    if through is not None:
        processed = processed.filter(number__lte=through)
    issued = Invoice.objects.filter(billing_run_id=run_id, kind=InvoiceKind.INVOICE)
    failures = BillingRunFailure.objects.filter(run_id=run_id)
    skipped = (
        processed.exclude(Exists(issued.filter(contract_id=OuterRef("pk"))))
        .exclude(Exists(failures.filter(contract_id=OuterRef("pk"))))
        .count()
    )
    fields: dict[str, object] = {
        "issued": issued.count(),
        "failed": failures.count(),
        "skipped": skipped,
        "updated_at": Now(),
    }
    if through is not None:
        fields["resume_after"] = through
    else:
        fields["total"] = selectors.contracts_to_bill(month=month).order_by().count()
    BillingRun.objects.filter(pk=run_id).update(**fields)


def billing_run_execute(*, run_id: UUID | str) -> BillingRun:
    """Bill every contract in force in the run's month that has no invoice for it yet, from
    where the run stopped.

    Not one transaction: contracts are issued in groups of COMMIT_EVERY, one transaction each,
    so a failing contract is recorded on the run and the others go on, and a run killed halfway
    leaves whole groups, which the next execution continues after. A run that is finished (or
    failed), or executed by someone else right now, is returned unchanged.
    """
    with scopes_disabled():  # a run bills every policyholder: the insurer-wide scope
        run = BillingRun.objects.get(pk=run_id)
        if run.status not in ACTIVE_RUN_STATUSES:
            return run
        with _execution_lock(run.pk) as held:
            run.refresh_from_db()
            if not held or run.status not in ACTIVE_RUN_STATUSES:
                return run
            _execute(run)
        run.refresh_from_db()
    return run


def _execute(run: BillingRun) -> None:
    BillingRun.objects.filter(pk=run.pk).update(
        status=BillingRunStatus.RUNNING,
        started_at=Coalesce("started_at", Now()),
        updated_at=Now(),
        total=selectors.contracts_to_bill(month=run.month).order_by().count(),
    )
    contract_ids = list(_remaining(run).values_list("pk", flat=True))
    try:
        issuer = issuer_details()
        for batch in _chunks(contract_ids, RUN_BATCH):
            _bill_batch(run=run, contract_ids=batch, issuer=issuer)
        _finish(run)
    except CONNECTION_ERRORS:
        raise  # the connection is gone: resumed by the task's retry or the supervisor
    except _TakenOver:
        logger.warning("billing run %s: taken over by another execution", run.pk)
    except Exception as error:
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRunStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{type(error).__name__}: {error}"[:2000],
        )
        raise


@transaction.atomic
def _finish(run: BillingRun) -> None:
    """Close the run, once: its final counters and its one `run finished` event. A run closed
    already keeps its counters."""
    closed = BillingRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES).update(
        status=BillingRunStatus.FINISHED, finished_at=Now()
    )
    if not closed:
        return
    _recount(run_id=run.pk, month=run.month, through=None)
    run.refresh_from_db()
    event_record(
        action=BillingEvent.RUN_FINISHED,
        actor=None,
        obj=run,
        data={"issued": run.issued, "skipped": run.skipped, "failed": run.failed},
    )


def _bill_batch(*, run: BillingRun, contract_ids: list[UUID], issuer: Issuer) -> None:
    contracts = list(
        Contract.objects.filter(pk__in=contract_ids)
        .select_related("policyholder")
        .order_by("number")
    )
    # A group of contracts is issued set-based in one transaction, with the run's progress and
    # counters. If anything in it fails, the group rolls back and its contracts are issued one
    # by one, each in its own savepoint, so the failing contract is recorded on the run and the
    # others go on. A kill loses at most the uncommitted group, which the resume issues again.
    for start in range(0, len(contracts), COMMIT_EVERY):
        group = contracts[start : start + COMMIT_EVERY]
        through = group[-1].number
        try:
            with transaction.atomic():
                _claim_group(run.pk)
                issue_invoices(contracts=group, month=run.month, issuer=issuer, run=run, actor=None)
                _recount(run_id=run.pk, month=run.month, through=through)
        except STOP_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - isolate the culprit below
            logger.warning("billing run %s: a group failed, retrying contract by contract", run.pk)
            with transaction.atomic():
                _claim_group(run.pk)
                _bill_one_by_one(run=run, contracts=group, issuer=issuer)
                _recount(run_id=run.pk, month=run.month, through=through)


def _bill_one_by_one(*, run: BillingRun, contracts: list[Contract], issuer: Issuer) -> None:
    for contract in contracts:
        try:
            invoice_issue(contract=contract, month=run.month, issuer=issuer, run=run)
        except CONNECTION_ERRORS:
            raise
        except Exception as error:  # noqa: BLE001 - one contract must not stop the others
            _record_failure(run=run, contract=contract, error=error)


def billing_runs_stalled(*, stalled_after: timedelta | None = None) -> list[UUID]:
    """Queued or running runs without a heartbeat for `stalled_after`
    (BILLING_RUN_STALL_SECONDS): a killed worker, a lost kick, a dropped connection."""
    if stalled_after is None:
        stalled_after = timedelta(seconds=settings.BILLING_RUN_STALL_SECONDS)
    return list(
        BillingRun.objects.filter(status__in=ACTIVE_RUN_STATUSES)
        .alias(heartbeat=Coalesce("updated_at", "created_at"))
        .filter(heartbeat__lte=timezone.now() - stalled_after)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )


def billing_runs_supervise(*, stalled_after: timedelta | None = None) -> list[UUID]:
    """Beat: resume the stalled runs (enqueued again, they continue after their last group),
    or close those with nothing left. A run whose lock is held is alive, merely slow: left
    alone. Returns the runs resumed or closed."""
    handled = []
    with scopes_disabled():
        for run_id in billing_runs_stalled(stalled_after=stalled_after):
            with _execution_lock(run_id) as held:
                run = BillingRun.objects.get(pk=run_id)
                if not held or run.status not in ACTIVE_RUN_STATUSES:
                    continue
                nothing_left = not _remaining(run).exists()
                if nothing_left:
                    logger.warning("billing run %s stalled with nothing left: closed", run_id)
                    _finish(run)
            handled.append(run_id)
            if not nothing_left:
                logger.warning("billing run %s stalled: resumed", run_id)
                _enqueue(str(run_id))
    return handled

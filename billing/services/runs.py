"""Billing runs: every contract of a month, issued in groups, one transaction per group.

A run is resumable. Contracts are billed in number order; each group's transaction also writes
`resume_after` (its last contract) and advances the counters by what that transaction itself
wrote: `issued` its invoices, `failed` its failures, `skipped` its other contracts (invoiced
earlier by another run, or nothing to bill). A redelivered message, a retry or a resumed
execution writes nothing twice, so it adds nothing twice; a rolled-back group takes its counts
with it. When the run closes, the counters are recounted from the rows (`_recount`).

One execution at a time per run: a session advisory lock keyed on the run, taken without
waiting; a second execution (a redelivered message, the supervisor's resume of a run that is
merely slow) returns at once without touching it. PostgreSQL drops the lock with the session,
so a killed process or a terminated connection frees the run for the next execution.
`billing_runs_supervise` (beat) resumes the runs whose heartbeat stopped, or closes them.

Fan-out (`billing_run_dispatch`, what the task does): the run's contracts are cut into groups
(`BillingRunGroup` rows, written once), each billed by a task of its own on the billing queue,
so that every billing worker, on every machine, takes groups. A group task holds the run's lock
*shared* (groups of one run go side by side; an in-process execution or the supervisor holds it
exclusively), and its group row's lock while it works; it marks the row done in the transaction
that issues its invoices, so a duplicate delivery finds it done and writes nothing. The task
that finds no group left closes the run: it executes it in-process, which bills whatever no
group covered (nothing, normally) and writes the final counters and the one `finished` event.
Numbers stay gap-free: every issuing transaction takes the year's number sequence row lock,
after its lines are written (`billing.services.invoices.issue_invoices`), so the groups write
their lines side by side and take turns only to number and commit; numbers follow the commit
order, which across groups is not the contracts' order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from uuid import UUID

import psycopg
from django.conf import settings
from django.db import Error, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django_scopes import scopes_disabled

from billing import selectors
from billing.events import BillingEvent
from billing.models import (
    ACTIVE_RUN_STATUSES,
    BillingRun,
    BillingRunFailure,
    BillingRunGroup,
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
# Contracts issued set-based per transaction (a group, a task when fanned out). Measured on the
# bench book: groups of 200 cost about 20 % more, 1 000 no less than 500.
COMMIT_EVERY = 500
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


def _claim_group(run_id: UUID, *, shared: bool = False) -> None:
    """In each group's transaction: no other session holds the run (ours does, or nobody if our
    session was lost and Django connected again), and none can take it before this commits.
    `shared`: a fanned-out group, beside the run's other groups (but never beside an
    in-process execution, nor while the supervisor looks at the run)."""
    function = "pg_try_advisory_xact_lock_shared" if shared else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, hashtext(%s))", [RUN_LOCK_CLASS, str(run_id)])
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
    collation orders them): after the resume point, and in no group done."""
    contracts = selectors.contracts_to_bill(month=run.month)
    if run.resume_after:
        contracts = contracts.filter(number__gt=run.resume_after)
    done = BillingRunGroup.objects.filter(run_id=run.pk, done_at__isnull=False)
    if done.exists():
        contracts = contracts.exclude(
            pk__in=RawSQL(  # noqa: S611 - the model's table name; the run id is bound
                f"SELECT unnest(contract_ids) FROM {BillingRunGroup._meta.db_table}"  # noqa: S608
                " WHERE run_id = %s AND done_at IS NOT NULL",
                [run.pk],
            )
        )
    return contracts


def _recount(*, run_id: UUID, month: date) -> None:
    """When the run closes: its counters from the rows, whoever executed it and however often.
    `skipped`: the month's contracts with neither an invoice of this run nor a failure."""
    issued = Invoice.objects.filter(billing_run_id=run_id, kind=InvoiceKind.INVOICE)
    failures = BillingRunFailure.objects.filter(run_id=run_id)
    contracts = selectors.contracts_to_bill(month=month).order_by()
    # A set difference (EXCEPT), hashed or sorted: its cost does not depend on PostgreSQL's
    # guess of how many invoices the month has, which the run has just written and which its
    # statistics do not know yet (as anti-joins, it compared every contract with every invoice:
    # 50 000 000 comparisons for a month of 10 000).
    skipped = (
        contracts.values("pk")
        .difference(issued.values("contract_id"), failures.values("contract_id"))
        .count()
    )
    BillingRun.objects.filter(pk=run_id).update(
        issued=issued.count(),
        failed=failures.count(),
        skipped=skipped,
        total=contracts.count(),
        updated_at=Now(),
    )


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
    _recount(run_id=run.pk, month=run.month)
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
    for start in range(0, len(contracts), COMMIT_EVERY):
        group = contracts[start : start + COMMIT_EVERY]
        _bill_group(run=run, contracts=group, issuer=issuer, through=group[-1].number)


def _bill_group(
    *,
    run: BillingRun,
    contracts: list[Contract],
    issuer: Issuer,
    through: str | None = None,
    group: BillingRunGroup | None = None,
) -> None:
    """Issue a group of contracts set-based in one transaction, with the run's progress and
    counters: in-process, its resume point `through`; fanned out, its `group` row marked done.
    If anything in it fails, the group rolls back and its contracts are issued one by one, each
    in its own savepoint, so the failing contract is recorded on the run and the others go on.
    A kill loses at most the uncommitted group, which the resume issues again."""

    def bill(issue: Callable[[], tuple[int, int]]) -> None:
        with transaction.atomic():
            _claim_group(run.pk, shared=group is not None)
            if group is not None and not _take_group(group):
                return  # a duplicate delivery: done meanwhile
            issued, failed = issue()
            _advance(
                run_id=run.pk,
                processed=len(contracts),
                issued=issued,
                failed=failed,
                through=through,
            )

    try:
        bill(
            lambda: (
                len(
                    issue_invoices(
                        contracts=contracts, month=run.month, issuer=issuer, run=run, actor=None
                    )
                ),
                0,
            )
        )
    except STOP_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - isolate the culprit below
        logger.warning("billing run %s: a group failed, retrying contract by contract", run.pk)
        bill(lambda: _bill_one_by_one(run=run, contracts=contracts, issuer=issuer))


def _bill_one_by_one(
    *, run: BillingRun, contracts: list[Contract], issuer: Issuer
) -> tuple[int, int]:
    """(invoices issued, contracts failed)."""
    issued = failed = 0
    for contract in contracts:
        try:
            if invoice_issue(contract=contract, month=run.month, issuer=issuer, run=run):
                issued += 1
        except CONNECTION_ERRORS:
            raise
        except Exception as error:  # noqa: BLE001 - one contract must not stop the others
            _record_failure(run=run, contract=contract, error=error)
            failed += 1
    return issued, failed


class RunBusy(Exception):  # noqa: N818 - a signal for the task to retry later
    """A fanned-out group met an in-process execution of its run, or the supervisor looking at
    it: the group's task tries again a moment later."""


def _take_group(group: BillingRunGroup) -> bool:
    """Mark the group done in this transaction, holding its row until commit; False if it was
    done already. A duplicate delivery of the group waits on the row, then finds it done."""
    return bool(
        BillingRunGroup.objects.filter(pk=group.pk, done_at__isnull=True).update(done_at=Now())
    )


def _advance(
    *, run_id: UUID, processed: int, issued: int, failed: int, through: str | None
) -> None:
    """In a group's transaction: the run's heartbeat, its counters advanced by what this very
    transaction wrote (a redelivered group writes nothing, so adds nothing; a rolled-back one
    takes its counts with it), and in-process, the resume point `through`. Counting the rows
    instead, in every group, would read the whole run so far each time (quadratic in the book);
    they are recounted once, from the rows, when the run closes (`_recount`)."""
    fields: dict[str, object] = {
        "issued": F("issued") + issued,
        "failed": F("failed") + failed,
        "skipped": F("skipped") + (processed - issued - failed),
        "updated_at": Now(),
    }
    if through is not None:
        fields["resume_after"] = through
    BillingRun.objects.filter(pk=run_id).update(**fields)


def _group_enqueue(group_ids: list[UUID]) -> None:
    from billing.tasks import billing_run_group_task

    for group_id in group_ids:
        billing_run_group_task.delay(group_id=str(group_id))


def billing_run_dispatch(*, run_id: UUID | str) -> BillingRun:
    """Fan the run out: cut what is left of it into groups of COMMIT_EVERY contracts in number
    order (once: a resumed dispatch finds them), and enqueue a task per group not done yet.
    With nothing left to dispatch, the run is closed here. A finished or failed run, or one
    executed in-process right now, is returned unchanged."""
    with scopes_disabled():
        run = BillingRun.objects.get(pk=run_id)
        if run.status not in ACTIVE_RUN_STATUSES:
            return run
        with _execution_lock(run.pk) as held:
            run.refresh_from_db()
            if not held or run.status not in ACTIVE_RUN_STATUSES:
                return run
            with transaction.atomic():
                BillingRun.objects.filter(pk=run.pk).update(
                    status=BillingRunStatus.RUNNING,
                    started_at=Coalesce("started_at", Now()),
                    updated_at=Now(),
                    total=selectors.contracts_to_bill(month=run.month).order_by().count(),
                )
                if not BillingRunGroup.objects.filter(run_id=run.pk).exists():
                    contract_ids = list(_remaining(run).values_list("pk", flat=True))
                    BillingRunGroup.objects.bulk_create(
                        BillingRunGroup(run_id=run.pk, position=position, contract_ids=group)
                        for position, group in enumerate(_chunks(contract_ids, COMMIT_EVERY))
                    )
            pending = list(
                BillingRunGroup.objects.filter(run_id=run.pk, done_at__isnull=True)
                .order_by("position")
                .values_list("pk", flat=True)
            )
        # Enqueued once the lock is free: the groups take it shared.
        if pending:
            _group_enqueue(pending)
        else:
            billing_run_execute(run_id=run.pk)
        run.refresh_from_db()
    return run


def billing_run_group_execute(*, group_id: UUID | str) -> None:
    """Bill one fanned-out group, once; then, if no group of its run is left, close the run
    (an in-process execution, which finds nothing left but the contracts no group covered).
    Raises RunBusy when the run is held exclusively (the task retries)."""
    with scopes_disabled():
        group = BillingRunGroup.objects.select_related("run").filter(pk=group_id).first()
        if group is None or group.run.status not in ACTIVE_RUN_STATUSES:
            return
        run = group.run
        if group.done_at is None:
            contracts = list(
                Contract.objects.filter(pk__in=group.contract_ids)
                .select_related("policyholder")
                .order_by("number")
            )
            try:
                _bill_group(run=run, contracts=contracts, issuer=issuer_details(), group=group)
            except _TakenOver:
                raise RunBusy(str(run.pk)) from None
        if not BillingRunGroup.objects.filter(run_id=run.pk, done_at__isnull=True).exists():
            billing_run_execute(run_id=run.pk)


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

"""Issue 15 §5: a run fans out as one task per group of contracts, so that more billing workers
bill faster. Each group is idempotent (a duplicate delivery writes nothing), the numbers stay
gap-free with groups issued side by side, the group that finds none left closes the run once,
and the supervisor re-enqueues the groups whose messages were lost."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connections
from django_scopes import scopes_disabled
from pytest_django import Settings

from billing import services
from billing import tasks as billing_tasks
from billing.events import BillingEvent
from billing.models import BillingRun, BillingRunGroup, BillingRunStatus, Invoice, InvoiceLine
from billing.services import invoices as invoices_service
from billing.services import runs as runs_service
from tests.support.billing import book
from tests.support.world import World
from underwriting.models import Contract

from .test_run_recovery import (
    assert_everything_exactly_once,
    events,
    new_run,
    state,
    sweep_deliveries,
    wait_until_no_run_lock,
    with_finance_users,
)
from .test_runs import database_url, numbers

pytestmark = [pytest.mark.usefixtures("eager_celery"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lost_group_messages(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The group tasks' messages, kept here instead of sent: the test delivers them."""
    sent: list[str] = []
    monkeypatch.setattr(
        runs_service, "_group_enqueue", lambda ids: sent.extend(str(pk) for pk in ids)
    )
    yield sent


def in_threads(*calls: Callable[[], object]) -> list[BaseException]:
    """Run the calls at once, each on a connection of its own (as workers); what they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def work(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            call()
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def deliver(group_id: str) -> Callable[[], None]:
    return lambda: billing_tasks.billing_run_group_task(group_id=group_id)


def lines_per_invoice() -> Counter[Any]:
    with scopes_disabled():
        return Counter(InvoiceLine.objects.values_list("invoice_id", flat=True))


def test_the_task_fans_the_run_out_in_groups_that_bill_every_contract_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = book(10)
    with_finance_users(contracts)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 3)
    run = new_run()
    billing_tasks.billing_run_execute_task(run_id=str(run.pk))
    # alice and bob (nothing to bill) and the ten contracts of the book: four groups.
    assert list(BillingRunGroup.objects.filter(run=run).values_list("position", flat=True)) == [
        0,
        1,
        2,
        3,
    ]
    assert not BillingRunGroup.objects.filter(run=run, done_at__isnull=True).exists()
    sweep_deliveries()
    assert_everything_exactly_once(run, contracts)
    # Two buyers per contract of the book: two lines under each invoice, none twice.
    assert sorted(lines_per_invoice().values()) == [2] * 10


def test_duplicate_deliveries_of_a_group_write_its_invoices_once(
    world: World, monkeypatch: pytest.MonkeyPatch, lost_group_messages: list[str]
) -> None:
    contracts = book(10)
    with_finance_users(contracts)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 3)
    run = new_run()
    services.billing_run_dispatch(run_id=run.pk)
    groups = list(lost_group_messages)
    assert len(groups) == 4 and state(run)[0] == BillingRunStatus.RUNNING
    # The first group delivered to two workers at once, then again once it is done.
    assert in_threads(deliver(groups[0]), deliver(groups[0])) == []
    deliver(groups[0])()
    for group in groups[1:]:
        assert in_threads(deliver(group), deliver(group)) == []
    deliver(groups[-1])()  # a redelivery after the run closed
    sweep_deliveries()
    assert_everything_exactly_once(run, contracts)
    assert events(BillingEvent.RUN_FINISHED) == Counter({str(run.pk): 1})


def test_two_workers_issuing_groups_side_by_side_keep_the_numbers_gap_free(
    world: World, monkeypatch: pytest.MonkeyPatch, lost_group_messages: list[str]
) -> None:
    contracts = book(16)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 2)
    # Each group's lines written, then a pause before the numbering lock: the other worker's
    # groups overtake and interleave with it.
    original = invoices_service.lock_numbering
    monkeypatch.setattr(
        invoices_service,
        "lock_numbering",
        lambda: (threading.Event().wait(0.05), original())[1],
    )
    run = new_run()
    services.billing_run_dispatch(run_id=run.pk)
    groups = list(lost_group_messages)
    assert len(groups) == 9

    def worker(mine: list[str]) -> Callable[[], None]:
        def take() -> None:
            for group in mine:
                deliver(group)()

        return take

    assert in_threads(worker(groups[0::2]), worker(groups[1::2])) == []
    run.refresh_from_db()
    assert (run.status, run.total, run.issued, run.skipped, run.failed) == (
        BillingRunStatus.FINISHED,
        18,
        16,
        2,
        0,
    )
    assert numbers() == list(range(1, 17))
    with scopes_disabled():
        invoiced = Counter(Invoice.objects.values_list("contract_id", flat=True))
        # Numbers follow the issue times, whichever worker issued them.
        by_number = list(Invoice.objects.order_by("sequence").values_list("issued_at", flat=True))
    assert invoiced == Counter({contract.pk: 1 for contract in contracts})
    assert by_number == sorted(by_number)
    assert sorted(lines_per_invoice().values()) == [2] * 16
    assert events(BillingEvent.RUN_FINISHED) == Counter({str(run.pk): 1})


def test_a_group_waits_while_the_run_is_executed_in_process(
    world: World, lost_group_messages: list[str]
) -> None:
    book(2)
    run = new_run()
    services.billing_run_dispatch(run_id=run.pk)
    (group,) = lost_group_messages
    with psycopg.connect(database_url(), autocommit=True) as other:
        # An in-process execution of the run (or the supervisor looking at it) holds its lock.
        other.execute(
            "SELECT pg_advisory_lock(%s, hashtext(%s))",
            [runs_service.RUN_LOCK_CLASS, str(run.pk)],
        )
        with pytest.raises(services.RunBusy):
            services.billing_run_group_execute(group_id=group)
    assert services.RunBusy in billing_tasks.billing_run_group_task.autoretry_for
    assert state(run) == (BillingRunStatus.RUNNING, 4, 0, 0, 0)
    wait_until_no_run_lock()
    deliver(group)()  # the retry
    assert state(run) == (BillingRunStatus.FINISHED, 4, 2, 2, 0)


def test_the_supervisor_enqueues_again_the_groups_whose_messages_were_lost(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts: list[Contract] = book(7)
    with_finance_users(contracts)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 3)
    lost: list[str] = []
    with monkeypatch.context() as broker_down:
        broker_down.setattr(runs_service, "_group_enqueue", lambda ids: lost.extend(ids))
        run = new_run()
        billing_tasks.billing_run_execute_task(run_id=str(run.pk))
    assert len(lost) == 3 and state(run)[0] == BillingRunStatus.RUNNING
    deliver(str(lost[1]))()  # one of them was delivered after all
    settings.BILLING_RUN_STALL_SECONDS = 0
    assert services.billing_runs_supervise() == [run.pk]
    assert list(BillingRunGroup.objects.filter(run=run).values_list("position", flat=True)) == [
        0,
        1,
        2,
    ]  # the same groups, not new ones
    sweep_deliveries()
    assert_everything_exactly_once(run, contracts)
    assert BillingRun.objects.get(pk=run.pk).groups.filter(done_at__isnull=True).count() == 0

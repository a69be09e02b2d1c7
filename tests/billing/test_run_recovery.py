"""Issue 13, findings 1 and 2: an interrupted billing run is resumed and closed by the
supervisor, its counters are derived from the rows whoever executes it, redelivery never
rewrites a finished run, and the renders whose kick was lost are found by the PDF sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core import mail
from django.db import InterfaceError, OperationalError, connection, connections
from django_scopes import scopes_disabled
from pytest_django import Settings

from billing import pdf as billing_pdf
from billing import services
from billing import tasks as billing_tasks
from billing.events import BillingEvent
from billing.models import (
    BillingRun,
    BillingRunStatus,
    BillingRunTrigger,
    Invoice,
    InvoiceKind,
    InvoicePdf,
)
from billing.services import billing_run_create, billing_run_execute, invoice_issue
from billing.services import invoices as invoices_service
from billing.services import runs as runs_service
from portal import outbox
from portal.models import AuditEvent, Delivery, DeliveryStatus, Role
from tests.support.billing import book
from tests.support.factories import UserFactory
from tests.support.scopes import insurer_scope
from tests.support.world import World
from underwriting.models import Contract

from .test_runs import OCTOBER, database_url, numbers

pytestmark = pytest.mark.usefixtures("eager_celery")


def with_finance_users(contracts: list[Contract]) -> None:
    """Each policyholder of the book gets a finance user: every invoice is one e-mail."""
    for contract in contracts:
        UserFactory.create(organisation=contract.policyholder, role=Role.FINANCE)


def new_run() -> BillingRun:
    return billing_run_create(month=OCTOBER, trigger=BillingRunTrigger.COMMAND, actor=None)


def state(run: BillingRun) -> tuple[Any, ...]:
    run = BillingRun.objects.get(pk=run.pk)
    return (run.status, run.total, run.issued, run.skipped, run.failed)


def events(action: BillingEvent) -> Counter[str]:
    with scopes_disabled():
        return Counter(
            AuditEvent.objects.filter(action=action.value).values_list("object_id", flat=True)
        )


def run_rows(run: BillingRun) -> tuple[int, int]:
    """(invoices issued by the run, its failures), counted from the rows."""
    with scopes_disabled():
        issued = Invoice.objects.filter(billing_run=run, kind=InvoiceKind.INVOICE).count()
    return issued, run.failures.count()


def wait_until_no_run_lock(timeout: float = 10.0) -> None:
    """A killed process's session ends when PostgreSQL reads the closed socket: wait for it."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                """
                SELECT count(*) FROM pg_locks
                 WHERE locktype = 'advisory' AND classid = %s
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """,
                [runs_service.RUN_LOCK_CLASS],
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError("the billing run's lock outlived its session")


class Renders:
    """Counts the PDFs actually rendered, per invoice (the stored ones are not re-rendered)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        original = billing_pdf.invoice_pdf_render

        def render(*, invoice: Invoice) -> bytes:
            with self.lock:
                self.counts[str(invoice.pk)] += 1
            time.sleep(delay)
            return original(invoice=invoice)

        monkeypatch.setattr(billing_pdf, "invoice_pdf_render", render)


def sweep_deliveries() -> int:
    """The outbox's beat sweep, without its grace period."""
    return outbox.deliveries_dispatch(
        delivery_ids=outbox.deliveries_pending(older_than=timedelta(0))
    )


def assert_everything_exactly_once(run: BillingRun, contracts: list[Contract]) -> None:
    run.refresh_from_db()
    issued, failed = run_rows(run)
    # 2 (alice, bob: nothing to bill) + the book
    assert (run.status, run.total, run.issued, run.skipped, run.failed) == (
        BillingRunStatus.FINISHED,
        len(contracts) + 2,
        len(contracts),
        2,
        0,
    )
    assert (run.issued, run.failed) == (issued, failed)
    assert numbers() == list(range(1, len(contracts) + 1))
    with scopes_disabled():
        invoices = list(Invoice.objects.filter(month=OCTOBER))
        assert sorted(i.contract_id for i in invoices) == sorted(c.pk for c in contracts)
        assert InvoicePdf.objects.count() == len(invoices)
        deliveries = list(Delivery.objects.all())
    assert events(BillingEvent.RUN_FINISHED) == Counter({str(run.pk): 1})
    assert events(BillingEvent.INVOICE_ISSUED) == Counter({str(i.pk): 1 for i in invoices})
    # One e-mail per invoice (one finance user per policyholder), sent once.
    assert len(deliveries) == len(invoices)
    assert all(d.status == DeliveryStatus.SENT for d in deliveries)
    subjects = Counter(message.subject for message in mail.outbox)
    assert sorted(subjects.values()) == [1] * len(invoices)
    assert all(any(i.number in subject for subject in subjects) for i in invoices)


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import django
    django.setup()
    from billing import services, tasks
    from billing.services import invoices, runs
    from billing.models import BillingRunTrigger
    from portal import tasks as portal_tasks
    from datetime import date

    def broker_down(**kwargs):
        raise ConnectionError("redis unreachable")

    # The kicks after commit are lost (the broker is down): PDFs and e-mails wait in the rows.
    tasks.invoice_render_pdfs.delay = broker_down
    portal_tasks.deliveries_dispatch.delay = broker_down

    calls = 0
    original = invoices._invoice_document

    def document_then_die(**kwargs):
        global calls
        calls += 1
        if calls == int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)  # inside a group's transaction
        return original(**kwargs)

    invoices._invoice_document = document_then_die
    runs.COMMIT_EVERY = 3
    run = services.billing_run_create(
        month=date(2026, 10, 1), trigger=BillingRunTrigger.COMMAND, actor=None
    )
    services.billing_run_execute(run_id=run.pk)
    """
)


def killed_billing(kill_at: int) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "unlockplus.settings",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(kill_at)],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    wait_until_no_run_lock()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("kill_at", "committed"),
    [(1, 0), (2, 1), (8, 7)],
    ids=["before-the-first-group", "after-one-group", "after-three-groups"],
)
def test_the_supervisor_finishes_a_killed_run_with_every_invoice_pdf_and_email_once(
    world: World,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    kill_at: int,
    committed: int,
) -> None:
    contracts = book(10)
    with_finance_users(contracts)
    renders = Renders(monkeypatch)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 3)
    killed_billing(kill_at)
    dead = BillingRun.objects.get()
    assert (dead.status, dead.issued) == (BillingRunStatus.RUNNING, committed)
    assert run_rows(dead) == (committed, 0)

    # Not stalled yet: the supervisor leaves a run with a recent heartbeat alone.
    assert billing_tasks.billing_run_supervise() == 0
    settings.BILLING_RUN_STALL_SECONDS = 0
    assert billing_tasks.billing_run_supervise() == 1  # resumed, executed here (eager)
    assert billing_tasks.billing_run_supervise() == 0  # finished: nothing to supervise

    # What the killed process committed lost its kicks: the sweeps catch up.
    services.invoice_pdfs_sweep(older_than=timedelta(0))
    sweep_deliveries()
    assert services.invoice_pdfs_sweep(older_than=timedelta(0)) == 0
    assert sweep_deliveries() == 0
    assert_everything_exactly_once(dead, contracts)
    assert set(renders.counts.values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_kick_was_lost_is_executed_by_the_supervisor(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = book(3)
    with_finance_users(contracts)

    def broker_down(**kwargs: object) -> None:
        raise ConnectionError("redis unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(billing_tasks.billing_run_execute_task, "delay", broker_down)
        run = services.billing_run_start(
            month=OCTOBER, trigger=BillingRunTrigger.PAGE, actor=world.staff["finance_ops"]
        )
    assert state(run)[0] == BillingRunStatus.QUEUED
    settings.BILLING_RUN_STALL_SECONDS = 0
    assert services.billing_runs_supervise() == [run.pk]
    assert_everything_exactly_once(run, contracts)


def test_a_redelivered_message_of_a_finished_run_changes_nothing(world: World) -> None:
    book(4)
    run = billing_run_execute(run_id=new_run().pk)
    before = BillingRun.objects.filter(pk=run.pk).values().get()
    assert (before["status"], before["issued"], before["skipped"]) == ("finished", 4, 2)

    billing_tasks.billing_run_execute_task(run_id=str(run.pk))  # redelivered an hour later
    billing_run_execute(run_id=run.pk)
    assert BillingRun.objects.filter(pk=run.pk).values().get() == before
    assert events(BillingEvent.RUN_FINISHED) == Counter({str(run.pk): 1})


def test_counters_are_the_rows_also_after_contracts_were_invoiced_by_another_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = book(5)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 2)
    with insurer_scope():
        invoice_issue(contract=contracts[2], month=OCTOBER)  # by hand, before the run
    run = billing_run_execute(run_id=new_run().pk)
    assert state(run) == (BillingRunStatus.FINISHED, 7, 4, 3, 0)
    assert run_rows(run) == (4, 0)


@pytest.mark.django_db(transaction=True)
def test_two_executions_of_one_run_at_once_count_each_invoice_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    book(12)
    original = invoices_service._invoice_document

    def slow_document(**kwargs: Any) -> Invoice:
        time.sleep(0.02)  # a run long enough for the twin to arrive while it works
        return original(**kwargs)

    monkeypatch.setattr(invoices_service, "_invoice_document", slow_document)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 4)
    run = new_run()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def execute() -> None:
        try:
            barrier.wait(timeout=10)
            billing_run_execute(run_id=run.pk)
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=execute) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    # One executed it, the other returned at once (or found it finished), counting nothing.
    assert state(run) == (BillingRunStatus.FINISHED, 14, 12, 2, 0)
    assert run_rows(run) == (12, 0)
    assert numbers() == list(range(1, 13))
    assert events(BillingEvent.RUN_FINISHED) == Counter({str(run.pk): 1})


@pytest.mark.django_db(transaction=True)
def test_the_supervisor_leaves_a_live_execution_alone(world: World, settings: Settings) -> None:
    book(2)
    run = new_run()
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.RUNNING)
    settings.BILLING_RUN_STALL_SECONDS = 0
    with psycopg.connect(database_url(), autocommit=True) as other:
        # Another worker executes the run (slowly: no heartbeat for a while).
        other.execute(
            "SELECT pg_advisory_lock(%s, hashtext(%s))",
            [runs_service.RUN_LOCK_CLASS, str(run.pk)],
        )
        assert services.billing_runs_supervise() == []
        assert billing_run_execute(run_id=run.pk).issued == 0  # a twin returns at once
    assert state(run) == (BillingRunStatus.RUNNING, 0, 0, 0, 0)
    wait_until_no_run_lock()
    assert services.billing_runs_supervise() == [run.pk]
    assert state(run) == (BillingRunStatus.FINISHED, 4, 2, 2, 0)


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_connection_is_terminated_mid_run_is_completed_by_the_supervisor(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = book(10)
    with_finance_users(contracts)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 3)
    original = invoices_service._invoice_document
    calls: list[int] = []

    def document_then_lose_the_database(**kwargs: Any) -> Invoice:
        calls.append(1)
        if len(calls) == 5:  # inside the third group's transaction
            pid = connection.connection.info.backend_pid
            with psycopg.connect(database_url(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return original(**kwargs)

    monkeypatch.setattr(invoices_service, "_invoice_document", document_then_lose_the_database)
    run = new_run()
    errors = executed_on_a_connection_of_its_own(run)
    assert len(errors) == 1 and isinstance(errors[0], (OperationalError, InterfaceError))
    # Two groups committed (alice, bob, c1 | c2, c3, c4); the run is left to be resumed.
    assert state(run) == (BillingRunStatus.RUNNING, 12, 4, 2, 0)
    monkeypatch.setattr(invoices_service, "_invoice_document", original)
    wait_until_no_run_lock()
    settings.BILLING_RUN_STALL_SECONDS = 0
    assert services.billing_runs_supervise() == [run.pk]
    services.invoice_pdfs_sweep(older_than=timedelta(0))
    sweep_deliveries()
    assert_everything_exactly_once(run, contracts)


def executed_on_a_connection_of_its_own(run: BillingRun) -> list[BaseException]:
    """Execute the run in a thread (a connection of its own, as a worker has); what it raised."""
    errors: list[BaseException] = []

    def execute() -> None:
        try:
            billing_run_execute(run_id=run.pk)
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=execute)
    thread.start()
    thread.join(timeout=120)
    return errors


def lose_render_kicks() -> Callable[[], None]:
    """The broker is down when the renders are kicked; returns what brings it back."""

    def broker_down(**kwargs: object) -> None:
        raise ConnectionError("redis unreachable")

    down = pytest.MonkeyPatch()
    down.setattr(billing_tasks.invoice_render_pdfs, "delay", broker_down)
    return down.undo


def test_the_pdf_sweep_renders_what_lost_its_kick_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders = Renders(monkeypatch)
    broker_back = lose_render_kicks()
    book(3)
    run = billing_run_execute(run_id=new_run().pk)
    with insurer_scope():
        invoice = Invoice.objects.filter(billing_run=run).first()
        assert invoice is not None
        note = services.credit_note_issue(
            invoice=invoice, full=True, reason="Doublon", actor=world.staff["finance_ops"]
        )
    broker_back()
    renders_before = sum(renders.counts.values())
    assert renders_before == 0

    # Within the grace period the kick may still come: the sweep leaves them.
    assert services.invoice_pdfs_sweep() == 0
    assert services.invoice_pdfs_sweep(older_than=timedelta(0)) == 4
    with scopes_disabled():
        stored = set(InvoicePdf.objects.values_list("invoice_id", flat=True))
        issued = set(Invoice.objects.values_list("pk", flat=True))
    assert stored == issued and note.pk in stored
    assert services.invoice_pdfs_sweep(older_than=timedelta(0)) == 0
    billing_tasks.invoice_render_pdfs(invoice_ids=[str(pk) for pk in issued])  # a redelivery
    assert sorted(renders.counts.values()) == [1, 1, 1, 1]


@pytest.mark.django_db(transaction=True)
def test_renders_racing_for_one_invoice_render_it_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker_back = lose_render_kicks()
    book(2)
    billing_run_execute(run_id=new_run().pk)
    broker_back()
    renders = Renders(monkeypatch, delay=0.3)
    with scopes_disabled():
        ids = [str(pk) for pk in Invoice.objects.values_list("pk", flat=True)]
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def render(job: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            job()
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            errors.append(error)
        finally:
            connections.close_all()

    jobs: list[Callable[[], object]] = [
        lambda: billing_tasks.invoice_render_pdfs(invoice_ids=ids),  # the kick, late
        lambda: services.invoice_pdfs_sweep(older_than=timedelta(0)),  # the sweep
        lambda: billing_tasks.invoice_render_pdf(invoice_id=ids[0]),  # a first download
    ]
    threads = [threading.Thread(target=render, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert renders.counts == Counter({invoice_id: 1 for invoice_id in ids})
    with scopes_disabled():
        assert InvoicePdf.objects.count() == 2

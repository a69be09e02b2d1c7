"""Exactly once: one invoice per (contract, month), gap-free numbers, runs that survive a
failing contract, a kill halfway and a concurrent twin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections

from billing import services
from billing.models import (
    BillingRun,
    BillingRunStatus,
    BillingRunTrigger,
    Invoice,
    InvoiceKind,
    InvoiceNumberSequence,
)
from billing.services import billing_run_create, billing_run_execute, invoice_issue
from billing.services import invoices as invoices_service
from portal.errors import RuleViolation
from portal.timeutils import business_today
from tests.support.billing import book, guarantee, issued
from tests.support.factories import BuyerFactory
from tests.support.scopes import insurer_scope
from tests.support.world import World
from underwriting.models import Contract

OCTOBER = date(2026, 10, 1)
YEAR = business_today().year


def numbers() -> list[int]:
    with insurer_scope():
        return sorted(Invoice.objects.values_list("sequence", flat=True))


def october_invoices() -> list[Invoice]:
    with insurer_scope():
        return list(Invoice.objects.filter(month=OCTOBER, kind=InvoiceKind.INVOICE))


def test_a_month_is_invoiced_once_per_contract(world: World) -> None:
    (contract,) = book(1)
    with insurer_scope():
        first = invoice_issue(contract=contract, month=OCTOBER)
        again = invoice_issue(contract=contract, month=OCTOBER)
    assert first is not None and again is None
    assert first.number == f"UP-{YEAR}-000001"
    assert len(october_invoices()) == 1


def test_numbers_run_per_year_without_gaps_and_credit_notes_take_the_next_one(
    world: World,
) -> None:
    contracts = book(3)
    with insurer_scope():
        invoices = [issued(c, OCTOBER) for c in contracts]
        note = services.credit_note_issue(
            invoice=invoices[1],
            full=True,
            reason="Garantie saisie en double",
            actor=world.staff["finance_ops"],
        )
        after = invoice_issue(contract=contracts[0], month=date(2026, 9, 1))
    assert [invoice.number for invoice in invoices] == [
        f"UP-{YEAR}-000001",
        f"UP-{YEAR}-000002",
        f"UP-{YEAR}-000003",
    ]
    assert note.number == f"UP-{YEAR}-000004"
    assert after is not None and after.number == f"UP-{YEAR}-000005"
    assert InvoiceNumberSequence.objects.get(year=YEAR).last == 5


def test_the_current_month_cannot_be_billed(world: World) -> None:
    with pytest.raises(RuleViolation):
        billing_run_create(month=business_today(), trigger=BillingRunTrigger.COMMAND, actor=None)


def test_a_run_bills_every_contract_and_a_second_run_changes_nothing(world: World) -> None:
    extra = book(4)  # alice and bob have nothing in force and no minimum: skipped
    first = billing_run_execute(
        run_id=billing_run_create(month=OCTOBER, trigger=BillingRunTrigger.COMMAND, actor=None).pk
    )
    assert (first.status, first.total, first.issued, first.skipped, first.failed) == (
        BillingRunStatus.FINISHED,
        6,
        4,
        2,
        0,
    )
    before = {(i.contract_id, i.number, i.total) for i in october_invoices()}
    second = billing_run_execute(
        run_id=billing_run_create(month=OCTOBER, trigger=BillingRunTrigger.BEAT, actor=None).pk
    )
    assert (second.issued, second.skipped) == (0, 6)
    assert {(i.contract_id, i.number, i.total) for i in october_invoices()} == before
    assert {i.contract_id for i in october_invoices()} == {c.pk for c in extra}


def test_one_failing_contract_does_not_stop_the_others(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = book(3)
    broken = contracts[1].pk
    original = invoices_service._invoice_document

    def invoice_document(*, contract: Contract, **kwargs: Any) -> Invoice:
        if contract.pk == broken:
            raise ValueError("taux illisible")
        return original(contract=contract, **kwargs)

    monkeypatch.setattr(invoices_service, "_invoice_document", invoice_document)
    run = billing_run_execute(
        run_id=billing_run_create(month=OCTOBER, trigger=BillingRunTrigger.COMMAND, actor=None).pk
    )
    assert (run.issued, run.failed, run.status) == (2, 1, BillingRunStatus.FINISHED)
    failure = run.failures.get()
    assert failure.contract_id == broken and "taux illisible" in failure.message
    assert numbers() == [1, 2]  # the failed contract took no number

    monkeypatch.setattr(invoices_service, "_invoice_document", original)
    rerun = billing_run_execute(
        run_id=billing_run_create(month=OCTOBER, trigger=BillingRunTrigger.COMMAND, actor=None).pk
    )
    assert (rerun.issued, rerun.failed) == (1, 0)
    assert numbers() == [1, 2, 3]


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import django
    django.setup()
    from billing import services
    from billing.services import invoices, runs
    from billing.models import BillingRunTrigger
    from datetime import date

    calls = 0
    original = invoices._invoice_document

    def document_then_die(**kwargs):
        global calls
        calls += 1
        if calls == int(sys.argv[1]):
            # Inside the issuing transaction: the year's number sequence locked, the group's
            # earlier documents built, nothing committed. A kill -9 now is the worst moment.
            os.kill(os.getpid(), signal.SIGKILL)
        return original(**kwargs)

    invoices._invoice_document = document_then_die
    runs.COMMIT_EVERY = 3  # small commit groups, so the kill lands after two of them
    run = services.billing_run_create(
        month=date(2026, 10, 1), trigger=BillingRunTrigger.COMMAND, actor=None
    )
    services.billing_run_execute(run_id=run.pk)
    """
)


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{db['NAME']}"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_celery")
def test_a_run_killed_halfway_then_run_again_leaves_no_duplicate_and_no_gap(world: World) -> None:
    book(10)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "unlockplus.settings",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, "8"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    # Groups of three contracts in number order: alice's and bob's (nothing to bill) and the
    # first of the book, then two full groups, were committed (7 invoices); the eighth invoice
    # died with its group's transaction (its number and the run's counters included).
    assert numbers() == [1, 2, 3, 4, 5, 6, 7]
    assert InvoiceNumberSequence.objects.get(year=YEAR).last == 7
    dead = BillingRun.objects.get()
    assert (dead.status, dead.issued) == (BillingRunStatus.RUNNING, 7)

    rerun = billing_run_execute(
        run_id=billing_run_create(month=OCTOBER, trigger=BillingRunTrigger.COMMAND, actor=None).pk
    )
    assert (rerun.issued, rerun.skipped, rerun.failed) == (3, 2 + 7, 0)
    assert numbers() == list(range(1, 11))
    invoices = october_invoices()
    assert len({invoice.contract_id for invoice in invoices}) == 10
    assert sum(invoice.total for invoice in invoices) == Decimal("600.00")  # 10 × 60.00


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_celery")
def test_two_runs_started_together_issue_each_invoice_once(world: World) -> None:
    book(12)
    runs = [
        billing_run_create(month=OCTOBER, trigger=BillingRunTrigger.BEAT, actor=None)
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def execute(run: BillingRun) -> None:
        try:
            barrier.wait(timeout=10)
            billing_run_execute(run_id=run.pk)
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=execute, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    done = [BillingRun.objects.get(pk=run.pk) for run in runs]
    assert all(run.status == BillingRunStatus.FINISHED for run in done)
    assert sum(run.issued for run in done) == 12
    assert all(run.issued + run.skipped + run.failed == run.total == 14 for run in done)
    assert numbers() == list(range(1, 13))
    invoices = october_invoices()
    assert len({invoice.contract_id for invoice in invoices}) == 12
    assert sum(invoice.total for invoice in invoices) == Decimal("720.00")  # 12 × 60.00
    with insurer_scope():
        assert Invoice.objects.filter(pdf__isnull=False).count() == 12


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_after_commit_neither_loses_nor_double_counts_invoices(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal import tasks as portal_tasks

    def broker_down(**kwargs: object) -> None:
        raise ConnectionError("redis unreachable")

    # alice's finance user is e-mailed through a task queued after commit: the queue is down.
    monkeypatch.setattr(portal_tasks.deliveries_dispatch, "delay", broker_down)
    monkeypatch.setattr(invoices_service, "render_after_commit", lambda invoices: None)
    guarantee(world.alice.contract, BuyerFactory.create(), "40000", date(2026, 1, 1))
    book(2)
    run = billing_run_execute(
        run_id=billing_run_create(month=OCTOBER, trigger=BillingRunTrigger.COMMAND, actor=None).pk
    )
    assert (run.status, run.total, run.issued, run.skipped, run.failed) == (
        BillingRunStatus.FINISHED,
        4,
        3,
        1,
        0,
    )
    assert numbers() == [1, 2, 3]

"""Issue 13: PostgreSQL restarted in the middle of a month-end run. A fast restart ends every
session at once and refuses new ones until the server is back; the run must neither lose nor
duplicate anything, and complete once the database answers again. The restart is played on this
test's database: every session ended (`pg_terminate_backend`), connections refused
(`ALLOW_CONNECTIONS false`) for a moment, then allowed again."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, connection, connections
from pytest_django import Settings

from billing import services
from billing.models import BillingRunStatus, Invoice
from billing.services import invoices as invoices_service
from billing.services import runs as runs_service
from tests.support.billing import book
from tests.support.world import World

from .test_run_recovery import (
    assert_everything_exactly_once,
    executed_on_a_connection_of_its_own,
    new_run,
    state,
    sweep_deliveries,
    wait_until_no_run_lock,
    with_finance_users,
)
from .test_runs import database_url

pytestmark = pytest.mark.usefixtures("eager_celery")


def maintenance_url() -> str:
    """The same server and role, on the `postgres` database: what stays up to run the restart."""
    return database_url().rsplit("/", 1)[0] + "/postgres"


class Restart:
    """Plays a fast restart on this test's database from outside it."""

    def __init__(self) -> None:
        self.name = connection.settings_dict["NAME"]
        self.down = threading.Event()

    def stop(self) -> None:
        with psycopg.connect(maintenance_url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.name],
            )
        self.down.set()

    def start(self) -> None:
        with psycopg.connect(maintenance_url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')
        self.down.clear()


@pytest.fixture
def restart() -> Any:
    played = Restart()
    yield played
    played.start()


def reconnect() -> None:
    for alias in connections:
        connections[alias].close()


@pytest.mark.django_db(transaction=True)
def test_a_run_cut_by_a_database_restart_completes_once_the_database_is_back(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch, restart: Restart
) -> None:
    contracts = book(10)
    with_finance_users(contracts)
    monkeypatch.setattr(runs_service, "COMMIT_EVERY", 3)
    original = invoices_service._invoice_document
    calls: list[int] = []

    def document_then_restart(**kwargs: Any) -> Invoice:
        calls.append(1)
        if len(calls) == 5:  # inside the third group's transaction: the server goes down
            restart.stop()
        return original(**kwargs)

    monkeypatch.setattr(invoices_service, "_invoice_document", document_then_restart)
    run = new_run()
    errors = executed_on_a_connection_of_its_own(run)
    assert len(errors) == 1 and isinstance(errors[0], (OperationalError, InterfaceError))

    # While the server is down, the supervisor (beat) cannot reach it either: it fails, and
    # changes nothing.
    reconnect()
    settings.BILLING_RUN_STALL_SECONDS = 0
    with pytest.raises((OperationalError, InterfaceError)):
        services.billing_runs_supervise()
    time.sleep(1)

    restart.start()
    reconnect()
    monkeypatch.setattr(invoices_service, "_invoice_document", original)
    # Two groups committed before the restart (alice, bob, c1 | c2, c3, c4); the third is gone.
    assert state(run) == (BillingRunStatus.RUNNING, 12, 4, 2, 0)
    wait_until_no_run_lock()
    assert services.billing_runs_supervise() == [run.pk]
    services.invoice_pdfs_sweep(older_than=timedelta(0))
    sweep_deliveries()
    assert services.billing_runs_supervise() == []
    assert_everything_exactly_once(run, contracts)

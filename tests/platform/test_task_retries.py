"""Issue 13, finding 3: e-mail and PDF jobs retried only on `OSError`, so a PostgreSQL restart
(`OperationalError`) or a broker drop failed them for good. Every task that does work retries
with backoff on the database's and the broker's connection errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from celery import Task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from billing import tasks as billing_tasks
from monitoring import tasks as monitoring_tasks
from portal import outbox
from portal import tasks as portal_tasks
from studies import tasks as studies_tasks
from tests.support.billing import celery_eager
from underwriting import tasks as underwriting_tasks
from unlockplus.celery import TRANSIENT_ERRORS

WORKING_TASKS: list[Task[Any, Any]] = [
    portal_tasks.deliveries_dispatch,
    portal_tasks.password_reset_send,
    billing_tasks.invoice_render_pdf,
    billing_tasks.invoice_render_pdfs,
    billing_tasks.billing_run_execute_task,
    billing_tasks.billing_run_month,
    studies_tasks.study_analyse_task,
    studies_tasks.studies_expire_task,
    monitoring_tasks.health_file_import_task,
    monitoring_tasks.monitoring_sweep_task,
    underwriting_tasks.expire_seasonal_limits,
]


@pytest.mark.parametrize("task", WORKING_TASKS, ids=lambda task: task.name)
def test_every_task_that_does_work_retries_on_database_and_broker_errors(
    task: Task[Any, Any],
) -> None:
    retried_on = set(getattr(task, "autoretry_for", ()))
    for error in (OperationalError, InterfaceError, BrokerOperationalError, RedisConnectionError):
        assert error in retried_on, f"{task.name} gives up on {error.__name__}"
    assert task.max_retries is not None and task.max_retries >= 10
    assert getattr(task, "retry_backoff", False)


def flaky(real: Callable[..., int], failures: list[BaseException]) -> Callable[..., int]:
    def call(**kwargs: Any) -> int:
        if failures:
            raise failures.pop(0)
        return real(**kwargs)

    return call


def test_an_email_job_survives_a_database_restart(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dispatcher meets a dropped connection twice (the server restarting), then sends."""
    failures: list[BaseException] = [
        OperationalError("terminating connection due to administrator command"),
        InterfaceError("connection already closed"),
    ]
    calls: list[list[int]] = []

    def dispatch(*, delivery_ids: list[int]) -> int:
        calls.append(delivery_ids)
        return 0

    monkeypatch.setattr(outbox, "deliveries_dispatch", flaky(dispatch, failures))
    with celery_eager():
        portal_tasks.deliveries_dispatch.delay(delivery_ids=[1, 2])

    assert calls == [[1, 2]] and failures == []


def test_the_transient_errors_are_connection_errors_not_bugs() -> None:
    from django.db import DataError, IntegrityError, ProgrammingError

    for bug in (IntegrityError, DataError, ProgrammingError, ValueError, KeyError):
        assert not issubclass(bug, TRANSIENT_ERRORS)

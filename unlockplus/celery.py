"""The Celery app, and the retry policy of its tasks."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unlockplus.settings")

app = Celery("unlockplus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# One queue per kind of work, each with workers of its own (`make run`, docker-compose.yml): a
# month-end run never waits behind PDF renders of 25-40 s, nor e-mails behind either. The rest
# (studies, buyer health, beat's sweeps) stays on the default queue, `celery`.
QUEUE_ROUTES: dict[str, dict[str, str]] = {
    "billing.tasks.billing_run_*": {"queue": "billing"},
    "billing.tasks.invoice_render_*": {"queue": "pdf"},
    "portal.tasks.deliveries_*": {"queue": "email"},
    "portal.tasks.password_reset_send": {"queue": "email"},
}
WORKER_QUEUES = ("celery", "billing", "pdf", "email")
app.conf.update(task_routes=QUEUE_ROUTES)

# What a task outlives by waiting: PostgreSQL or the broker restarting, a dropped connection, a
# network or SMTP socket error. Every task that retries on them is idempotent (it takes ids and
# finds what is already done), and Celery's Django fix-up closes a broken connection before the
# next attempt.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)
# Backoff 2, 4, 8 ... seconds, at most 5 minutes apart, with jitter: about half an hour in all,
# enough for a database or broker restart or failover.
RETRY_TRANSIENT: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 12,
}

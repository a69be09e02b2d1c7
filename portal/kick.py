"""The after-commit kick: a job starts as soon as the transaction that asked for it commits.

The kick is only the fast path. Every job is also written in the database in that transaction (a
pending e-mail delivery, an issued invoice without its PDF, a study being analysed, a received
buyer-health file, a queued billing run), and a beat sweep finds what a lost kick left undone.
So nothing waits for the broker: the kick is handed to a background thread of the process, which
publishes on a connection of its own with short timeouts and no retries, and drops the kick
(logged) when the broker is down or frozen. A request is never held by the broker.

Under `task_always_eager` (tests that run tasks in-process) or with `JOB_KICK_IN_BACKGROUND`
off, the kick is a plain `delay()` in the committing thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import Any

from celery import Task
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# Kicks waiting for the publisher thread; beyond, a kick is dropped (the sweeps catch up).
BACKLOG = 1000
# The publisher's connection gives up on a broker that does not answer within this time.
BROKER_TIMEOUT_SECONDS = 2.0
# At exit (a management command that just committed), how long the last kicks get to leave.
FLUSH_SECONDS = 5.0

Kick = tuple[Task[Any, Any], dict[str, Any]]


class _Publisher:
    """One daemon thread per process that publishes the kicks handed to it, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[Kick] = queue.Queue(maxsize=BACKLOG)
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.published = 0
        self.lost = 0

    def submit(self, task: Task[Any, Any], kwargs: dict[str, Any]) -> None:
        self._start()
        try:
            self._queue.put_nowait((task, kwargs))
        except queue.Full:
            self.lost += 1
            logger.warning(
                "kick of %s dropped (%s waiting): its sweep will run it", task.name, BACKLOG
            )

    def _start(self) -> None:
        pid = os.getpid()
        with self._lock:
            if self._pid == pid and self._thread is not None and self._thread.is_alive():
                return
            if self._pid != pid:  # a forked child (gunicorn, Celery) starts with its own queue
                self._queue = queue.Queue(maxsize=BACKLOG)
            self._pid = pid
            self._thread = threading.Thread(target=self._run, name="unlockplus-kick", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        from unlockplus.celery import app

        options = {
            "socket_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        }
        while True:
            task, kwargs = self._queue.get()
            try:
                with app.connection_for_write(transport_options=options) as connection:
                    task.apply_async(kwargs=kwargs, producer=connection.Producer(), retry=False)
                self.published += 1
            except Exception as error:  # the broker is down: the sweep will run the job
                self.lost += 1
                logger.warning("kick of %s lost (%s): its sweep will run it", task.name, error)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wait until every kick handed over so far has been published or dropped."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks


publisher = _Publisher()
atexit.register(publisher.flush)


def kick(task: Task[Any, Any], **kwargs: Any) -> None:
    """Start `task` now without waiting for the broker (see the module's docstring)."""
    if task.app.conf.task_always_eager or not settings.JOB_KICK_IN_BACKGROUND:
        task.delay(**kwargs)
        return
    publisher.submit(task, kwargs)


def kick_after_commit(task: Task[Any, Any], **kwargs: Any) -> None:
    """Kick `task` once the current transaction commits (at once outside one). `robust`: a
    failing kick never undoes or fails the committed change."""
    transaction.on_commit(lambda: kick(task, **kwargs), robust=True)

"""Issue 13, finding 6: with the broker frozen (SIGSTOP) a submission was saved but its answer
came after 60 s. The after-commit kick now leaves from a background thread with short broker
timeouts (portal.kick): the answer comes at once, and the e-mails go out through the outbox's
sweep once the broker is back. On a real Valkey, really stopped."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core import mail
from pytest_django import Settings

from portal import outbox
from portal.kick import publisher
from portal.models import Delivery, DeliveryStatus
from tests.support.clients import token_client
from tests.support.factories import BuyerFactory
from tests.support.world import World
from unlockplus.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import dev  # noqa: E402  (scripts/dev.py: the embedded Valkey of `make run`)

REQUEST = {
    "exposure": "100000",
    "primary_amount": "40000",
    "requested_top_up": "40000",
    "credit_term_days": 60,
    "reason": "new_order",
}


class Broker:
    """A real Valkey as the broker, which the test freezes (SIGSTOP) and resumes (SIGCONT)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.frozen = False

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True

    def resume(self) -> None:
        if self.frozen:
            os.kill(self.pid, signal.SIGCONT)
            self.frozen = False


@pytest.fixture
def broker(tmp_path: Path, settings: Settings) -> Iterator[Broker]:
    with dev.embedded_valkey(persistent=False, folder=tmp_path / "valkey") as url:
        running = Broker(int(redis.Redis.from_url(url).info("server")["process_id"]))
        previous = celery_app.conf.broker_url
        celery_app.conf.update(broker_url=url)
        settings.JOB_KICK_IN_BACKGROUND = True
        try:
            yield running
        finally:
            running.resume()
            publisher.flush(timeout=10)
            celery_app.conf.update(broker_url=previous)


def pending_ids() -> set[int]:
    return set(Delivery.objects.filter(status=DeliveryStatus.PENDING).values_list("pk", flat=True))


def test_a_submission_answers_at_once_with_the_broker_frozen_and_its_emails_go_out_after(
    world: World,
    broker: Broker,
    django_capture_on_commit_callbacks: Callable[..., AbstractContextManager[Any]],
) -> None:
    client = token_client(world.alice.credit_manager)

    def submit() -> tuple[int, float]:
        body = {**REQUEST, "buyer": str(BuyerFactory.create().pk)}
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/guarantee-requests/", body, content_type="application/json"
            )
        return response.status_code, time.monotonic() - started

    # A first submission with the broker up (and this process warm): its kick is published.
    published = publisher.published
    assert submit()[0] == 201
    assert publisher.flush(timeout=10)
    assert publisher.published == published + 1
    before = pending_ids()

    broker.freeze()
    status, elapsed = submit()

    assert status == 201
    print(f"frozen broker: the submission answered in {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0, f"the answer took {elapsed:.1f} s"
    waiting = pending_ids() - before
    assert waiting, "the submission tells the arbiters by e-mail"

    broker.resume()  # back: whatever became of the kick, the sweep sends each e-mail once
    publisher.flush(timeout=10)
    for _ in range(2):
        outbox.deliveries_dispatch(delivery_ids=outbox.deliveries_pending(older_than=_no_grace()))

    assert not pending_ids()
    sent_to = sorted(message.to[0] for message in mail.outbox)
    assert len(sent_to) == len(before) + len(waiting)


def _no_grace() -> Any:
    from datetime import timedelta

    return timedelta(0)

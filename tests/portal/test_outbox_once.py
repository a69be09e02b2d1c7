"""Issue 13, finding 4: one notification, two e-mails. The e-mail left, then the transaction
that was to mark it sent never committed (PostgreSQL restarting, the worker killed), so the next
attempt sent it again. The dispatcher now claims a delivery, sends outside any transaction and
marks it through a lost connection; only a sender killed between claim and mark leaves it to the
sweep, which sends the same message (same Message-ID) once its lease is over."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.core.mail import EmailMessage
from django.db import connection
from django.utils import timezone

from portal import outbox, tasks
from portal.models import Delivery, DeliveryStatus
from tests.portal.test_outbox import a_pending_delivery
from tests.support.world import World


def terminate_this_connection() -> None:
    """What a PostgreSQL fast restart does to the connection: the server ends it."""
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.django_db(transaction=True)
def test_an_email_that_left_just_before_the_database_dropped_is_not_sent_again(
    world: World, mailoutbox: list[EmailMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = a_pending_delivery(world.alice.credit_manager)
    real_send = EmailMessage.send
    drops = [terminate_this_connection]

    def send_then_lose_the_database(message: EmailMessage, fail_silently: bool = False) -> int:
        sent = real_send(message, fail_silently)
        while drops:
            drops.pop()()
        return sent

    monkeypatch.setattr(EmailMessage, "send", send_then_lose_the_database)

    assert outbox.delivery_send(delivery_id=delivery.pk) is True
    # The same job delivered again, and the sweep: nothing more leaves.
    assert tasks.deliveries_dispatch.apply(kwargs={"delivery_ids": [delivery.pk]}).get() == 0
    assert (
        outbox.deliveries_dispatch(delivery_ids=outbox.deliveries_pending(older_than=timedelta(0)))
        == 0
    )

    assert [message.to for message in mailoutbox] == [[world.alice.credit_manager.email]]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)


@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_after_its_claim_leaves_the_email_to_the_sweep_with_the_same_id(
    world: World, mailoutbox: list[EmailMessage]
) -> None:
    delivery = a_pending_delivery(world.alice.credit_manager)
    claimed = outbox._claim(delivery.pk)  # ... and the process dies before sending
    assert claimed is not None

    def sweep() -> int:
        pending = outbox.deliveries_pending(older_than=timedelta(0))
        return outbox.deliveries_dispatch(delivery_ids=pending)

    assert sweep() == 0  # within the lease, the claim may still be sending
    assert outbox.delivery_send(delivery_id=delivery.pk) is False
    Delivery.objects.filter(pk=delivery.pk).update(
        claimed_at=timezone.now() - outbox.SENDING_LEASE - timedelta(seconds=1)
    )
    assert sweep() == 1
    assert sweep() == 0

    assert len(mailoutbox) == 1
    assert mailoutbox[0].extra_headers["Message-ID"] == claimed.message_id
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)


@pytest.mark.django_db(transaction=True)
def test_an_smtp_error_puts_the_delivery_back_for_the_sweep(
    world: World, mailoutbox: list[EmailMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = a_pending_delivery(world.alice.credit_manager)

    def smtp_down(message: EmailMessage, fail_silently: bool = False) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(EmailMessage, "send", smtp_down)
        assert outbox.delivery_send(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert "Connection refused" in delivery.last_error

    assert outbox.delivery_send(delivery_id=delivery.pk) is True
    assert len(mailoutbox) == 1

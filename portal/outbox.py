"""The dispatcher of the outbox: sends pending deliveries, each once.

Sending is three steps, so that nothing the database does after the e-mail left can send it a
second time:
1. claim: under the row lock (`SKIP LOCKED`: a second dispatcher passes it by), the delivery
   becomes `sending`, committed;
2. send, outside any transaction;
3. mark it `sent` (or back to `pending` after an SMTP error), retrying through a lost database
   connection (a PostgreSQL restart) rather than leaving it to be sent again.
A redelivered or retried task, or a duplicate sweep, finds it `sending` or `sent` and sends
nothing. Only a sender killed between 1 and 3 leaves a delivery `sending`: the sweep sends it
again after `SENDING_LEASE`, with the same Message-ID, so that a mailbox which already has the
first copy shows one message. Batched deliveries (the messages of one conversation thread) go
out together, at most one e-mail per batch per recipient per `OUTBOX_BATCH_WINDOW_SECONDS`.
A failed send is retried by the sweep, up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A delivery claimed this long ago by a sender that never marked it is sent again.
SENDING_LEASE = timedelta(minutes=10)
# Marking a sent e-mail survives a database restart of up to 35 s (1+2+4+8+10+10).
MARK_ATTEMPTS = 7
# The kick after commit normally sends within a second; the sweep leaves it that time.
SWEEP_GRACE = timedelta(seconds=5)


def _batch(delivery: Delivery) -> list[Delivery] | None:
    """For a batched delivery, every pending delivery of its batch for the same recipient, to
    send as one e-mail; None (and the delivery postponed) when the recipient was e-mailed for
    this batch less than a window ago."""
    window = timedelta(seconds=settings.OUTBOX_BATCH_WINDOW_SECONDS)
    last_sent = (
        Delivery.objects.filter(
            recipient_id=delivery.recipient_id,
            batch_key=delivery.batch_key,
            status=DeliveryStatus.SENT,
        )
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    now = timezone.now()
    if last_sent is not None and now < last_sent + window:
        delivery.not_before = last_sent + window
        delivery.save(update_fields=["not_before"])
        return None
    return list(
        Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("notification")
        .filter(_sendable(now), recipient_id=delivery.recipient_id, batch_key=delivery.batch_key)
        .order_by("created_at", "pk")
    )


def _text(deliveries: list[Delivery]) -> tuple[str, str]:
    latest = deliveries[-1].notification
    link = f"{settings.SITE_URL}{latest.link}" if latest.link else ""
    if len(deliveries) == 1:
        return latest.subject, "\n\n".join(part for part in [latest.body, link] if part)
    subject = _("%(count)s nouveaux messages : %(subject)s") % {
        "count": len(deliveries),
        "subject": latest.subject,
    }
    lines = [f"- {d.notification.subject}: {d.notification.body[:200]}" for d in deliveries]
    return subject[:200], "\n".join(lines) + (f"\n\n{link}" if link else "")


@dataclass(frozen=True)
class _Claimed:
    ids: list[int]
    recipient: str
    subject: str
    body: str
    message_id: str


def _claim(delivery_id: int) -> _Claimed | None:
    """Step 1: the delivery (with the rest of its batch) marked `sending`, or None when it is
    not this call's to send."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("notification", "recipient")
            .filter(pk=delivery_id)
            .filter(_sendable(now))
            .first()
        )
        if delivery is None:
            return None  # sent or being sent already, or being claimed right now
        if delivery.not_before is not None and delivery.not_before > now:
            return None  # batched: its turn comes with the sweep
        together = [delivery]
        if delivery.batch_key:
            batch = _batch(delivery)
            if batch is None:
                return None
            together = batch or [delivery]
        subject, body = _text(together)
        ids = [each.pk for each in together]
        Delivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "unlockplus"
    return _Claimed(
        ids=ids,
        recipient=delivery.recipient.email,
        subject=subject,
        body=body,
        # The same for every attempt: a copy sent again after a lost mark is the same message.
        message_id=f"<delivery-{min(ids)}@{domain}>",
    )


def _mark(claimed: _Claimed, error: BaseException | None) -> None:
    """Step 3, through a lost database connection: the e-mail has left (or failed), and that
    must be recorded rather than sent again."""
    for attempt in range(MARK_ATTEMPTS):
        try:
            with transaction.atomic():
                rows = Delivery.objects.filter(pk__in=claimed.ids, status=DeliveryStatus.SENDING)
                if error is None:
                    rows.update(status=DeliveryStatus.SENT, sent_at=timezone.now())
                    return
                text = f"{type(error).__name__}: {error}"[:2000]
                rows.filter(attempts__gte=MAX_ATTEMPTS).update(
                    status=DeliveryStatus.FAILED, last_error=text
                )
                rows.update(status=DeliveryStatus.PENDING, last_error=text)
                return
        except (OperationalError, InterfaceError):
            if attempt == MARK_ATTEMPTS - 1 or connection.in_atomic_block:
                raise
            logger.warning("outbox: marking %s lost its connection, retrying", claimed.ids)
            connection.close()
            time.sleep(min(2.0**attempt, 10.0))


def delivery_send(*, delivery_id: int) -> bool:
    """Send one pending delivery (with the rest of its batch, if batched). Returns whether this
    call sent it."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return False
    message = EmailMessage(
        subject=claimed.subject,
        body=claimed.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[claimed.recipient],
        headers={"Message-ID": claimed.message_id},
    )
    try:
        message.send()
    except Exception as error:
        _mark(claimed, error)
        if not isinstance(error, OSError):
            raise  # a bug, not an outage: loud, and the delivery waits for the next sweep
        logger.warning("delivery %s failed (%s)", claimed.ids, error)
        return False
    _mark(claimed, None)
    return True


def _sendable(now: datetime) -> Q:
    """Pending, or claimed by a sender that vanished (killed between the claim and the mark)."""
    return Q(status=DeliveryStatus.PENDING) | Q(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - SENDING_LEASE
    )


def deliveries_dispatch(*, delivery_ids: Iterable[int]) -> int:
    return sum(delivery_send(delivery_id=delivery_id) for delivery_id in delivery_ids)


def deliveries_pending(*, older_than: timedelta = SWEEP_GRACE, limit: int = 500) -> list[int]:
    now = timezone.now()
    cutoff = now - older_than
    return list(
        Delivery.objects.filter(_sendable(now), created_at__lte=cutoff)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )

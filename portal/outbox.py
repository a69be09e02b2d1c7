"""The dispatcher of the outbox: sends pending deliveries, each at most once.

A delivery is sent under its row lock (`SKIP LOCKED`: a second dispatcher passes it by) and
marked sent in the same transaction, so a redelivered or retried task, or a duplicate sweep,
finds it sent and sends nothing. Batched deliveries (the messages of one conversation thread)
go out together, at most one e-mail per batch per recipient per `OUTBOX_BATCH_WINDOW_SECONDS`.
A failed send stays pending for the next sweep, up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
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
        .filter(
            recipient_id=delivery.recipient_id,
            batch_key=delivery.batch_key,
            status=DeliveryStatus.PENDING,
        )
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


def delivery_send(*, delivery_id: int) -> bool:
    """Send one pending delivery (with the rest of its batch, if batched). Returns whether this
    call sent it."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("notification", "recipient")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return False  # sent already, or being sent by another worker right now
        if delivery.not_before is not None and delivery.not_before > timezone.now():
            return False  # batched: its turn comes with the sweep
        together = [delivery]
        if delivery.batch_key:
            batch = _batch(delivery)
            if batch is None:
                return False
            together = batch or [delivery]
        subject, body = _text(together)
        for each in together:
            each.attempts += 1
        try:
            send_mail(
                subject=subject,
                message=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[delivery.recipient.email],
            )
        except OSError as error:
            for each in together:
                each.last_error = f"{type(error).__name__}: {error}"[:2000]
                if each.attempts >= MAX_ATTEMPTS:
                    each.status = DeliveryStatus.FAILED
                each.save(update_fields=["attempts", "last_error", "status"])
            logger.warning("delivery %s failed (%s)", delivery.pk, delivery.last_error)
            return False
        now = timezone.now()
        for each in together:
            each.status = DeliveryStatus.SENT
            each.sent_at = now
            each.save(update_fields=["attempts", "status", "sent_at"])
        return True


def deliveries_dispatch(*, delivery_ids: Iterable[int]) -> int:
    return sum(delivery_send(delivery_id=delivery_id) for delivery_id in delivery_ids)


def deliveries_pending(*, older_than: timedelta = SWEEP_GRACE, limit: int = 500) -> list[int]:
    now = timezone.now()
    cutoff = now - older_than
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, created_at__lte=cutoff)
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )

"""The dispatcher of the outbox: sends pending deliveries, each at most once.

A delivery is sent under its row lock (`SKIP LOCKED`: a second dispatcher passes it by) and
marked sent in the same transaction, so a redelivered or retried task, or a duplicate sweep,
finds it sent and sends nothing. A failed send stays pending for the next sweep, up to
`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from portal.models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# The kick after commit normally sends within a second; the sweep leaves it that time.
SWEEP_GRACE = timedelta(seconds=5)


def delivery_send(*, delivery_id: int) -> bool:
    """Send one pending delivery. Returns whether this call sent it."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("notification", "recipient")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return False  # sent already, or being sent by another worker right now
        notification = delivery.notification
        link = f"{settings.SITE_URL}{notification.link}" if notification.link else ""
        delivery.attempts += 1
        try:
            send_mail(
                subject=notification.subject,
                message="\n\n".join(part for part in [notification.body, link] if part),
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[delivery.recipient.email],
            )
        except OSError as error:
            delivery.last_error = f"{type(error).__name__}: {error}"[:2000]
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
            delivery.save(update_fields=["attempts", "last_error", "status"])
            logger.warning("delivery %s failed (%s)", delivery.pk, delivery.last_error)
            return False
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = timezone.now()
        delivery.save(update_fields=["attempts", "status", "sent_at"])
        return True


def deliveries_dispatch(*, delivery_ids: Iterable[int]) -> int:
    return sum(delivery_send(delivery_id=delivery_id) for delivery_id in delivery_ids)


def deliveries_pending(*, older_than: timedelta = SWEEP_GRACE, limit: int = 500) -> list[int]:
    cutoff = timezone.now() - older_than
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )

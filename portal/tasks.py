from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from portal.models import Notification

logger = logging.getLogger(__name__)


@shared_task
def heartbeat() -> str:
    """Proves beat and the worker are alive (visible in the worker log)."""
    logger.info("unlockplus heartbeat")
    return "ok"


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_notification_email(*, notification_id: int) -> None:
    notification = (
        Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    )
    if notification is None or not notification.recipient.email:
        return
    link = f"{settings.SITE_URL}{notification.link}" if notification.link else ""
    send_mail(
        subject=notification.subject,
        message="\n\n".join(part for part in [notification.body, link] if part),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[notification.recipient.email],
    )

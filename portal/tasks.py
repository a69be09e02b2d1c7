"""Portal tasks: the outbox dispatcher, the password reset e-mail and the beat heartbeat."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task

from portal import outbox, password_reset
from unlockplus.celery import RETRY_TRANSIENT, TRANSIENT_ERRORS

logger = logging.getLogger(__name__)


@shared_task
def heartbeat() -> str:
    """Proves beat and the worker are alive (visible in the worker log)."""
    logger.info("unlockplus heartbeat")
    return "ok"


@shared_task(**RETRY_TRANSIENT)
def deliveries_dispatch(*, delivery_ids: list[int]) -> int:
    """Kicked after the commit that recorded these deliveries; sends each once."""
    return outbox.deliveries_dispatch(delivery_ids=delivery_ids)


@shared_task
def deliveries_sweep() -> int:
    """Beat, every few seconds: send what a lost kick (broker down, process killed) left."""
    return outbox.deliveries_dispatch(delivery_ids=outbox.deliveries_pending())


@shared_task(**{**RETRY_TRANSIENT, "autoretry_for": (*TRANSIENT_ERRORS, SMTPException)})
def password_reset_send(*, email: str) -> int:
    """Kicked after the reset request; takes the address, not a user id, so that the request
    never looks the account up (its timing would tell whether it exists). An SMTP outage is
    retried with backoff; acks_late keeps the task through a killed worker."""
    return password_reset.password_reset_send_email(email=email)

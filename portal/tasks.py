"""Portal tasks: the outbox dispatcher and the beat heartbeat. Tasks take ids."""

from __future__ import annotations

import logging

from celery import shared_task

from portal import outbox

logger = logging.getLogger(__name__)


@shared_task
def heartbeat() -> str:
    """Proves beat and the worker are alive (visible in the worker log)."""
    logger.info("unlockplus heartbeat")
    return "ok"


@shared_task
def deliveries_dispatch(*, delivery_ids: list[int]) -> int:
    """Kicked after the commit that recorded these deliveries; sends each once."""
    return outbox.deliveries_dispatch(delivery_ids=delivery_ids)


@shared_task
def deliveries_sweep() -> int:
    """Beat, every few seconds: send what a lost kick (broker down, process killed) left."""
    return outbox.deliveries_dispatch(delivery_ids=outbox.deliveries_pending())

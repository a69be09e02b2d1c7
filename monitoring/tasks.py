"""Monitoring's Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from monitoring.services.imports import health_file_import, monitoring_sweep
from unlockplus.celery import RETRY_TRANSIENT


@shared_task(**RETRY_TRANSIENT)
def health_file_import_task(*, file_id: str) -> str:
    return health_file_import(file_id=file_id).status


@shared_task(**RETRY_TRANSIENT)
def monitoring_sweep_task() -> dict[str, int]:
    return vars(monitoring_sweep())

"""Monitoring's Celery tasks: take ids, call one service."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from monitoring.services.imports import health_file_import, monitoring_sweep

RETRY_ON = (OperationalError, InterfaceError, OSError)


@shared_task(autoretry_for=RETRY_ON, retry_backoff=True, max_retries=5)
def health_file_import_task(*, file_id: str) -> str:
    return health_file_import(file_id=file_id).status


@shared_task(autoretry_for=RETRY_ON, retry_backoff=True, max_retries=5)
def monitoring_sweep_task() -> dict[str, int]:
    return vars(monitoring_sweep())

"""The health check answers for the database and the broker."""

from __future__ import annotations

from django.test import Client
from pytest_django import Settings


def test_healthz_answers_200_when_database_and_broker_answer(db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_healthz_answers_503_when_the_broker_is_down(db: None, settings: Settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")

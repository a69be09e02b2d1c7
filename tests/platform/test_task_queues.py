"""Issue 13, finding 8: one queue for everything made a billing run wait behind PDF renders and
e-mails behind both. Billing, PDF rendering and e-mail each have their queue and workers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unlockplus.celery import WORKER_QUEUES
from unlockplus.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("billing.tasks.billing_run_month", "billing"),
        ("billing.tasks.billing_run_execute_task", "billing"),
        ("billing.tasks.invoice_render_pdf", "pdf"),
        ("billing.tasks.invoice_render_pdfs", "pdf"),
        ("portal.tasks.deliveries_dispatch", "email"),
        ("portal.tasks.deliveries_sweep", "email"),
        ("portal.tasks.password_reset_send", "email"),
        ("studies.tasks.study_analyse_task", "celery"),
        ("monitoring.tasks.monitoring_sweep_task", "celery"),
    ],
)
def test_each_kind_of_work_goes_to_its_own_queue(task: str, queue: str) -> None:
    route = celery_app.amqp.router.route({}, task)
    assert route["queue"].name == queue


def test_compose_runs_a_restarting_health_checked_worker_for_every_queue() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    consumed: set[str] = set()
    for name, service in services.items():
        command = str(service.get("command", ""))
        if " worker " not in f" {command} ":
            continue
        consumed.update(command.split(" -Q ")[1].split()[0].split(","))
        assert service["restart"] == "unless-stopped", name
        assert "healthcheck" in service, name
    assert consumed == set(WORKER_QUEUES)
    for name in ("web", "beat", "redis"):
        assert services[name]["restart"] == "unless-stopped"
        assert "healthcheck" in services[name]
    assert "--appendonly yes" in services["redis"]["command"]

"""Month-end billing starts by itself (beat) and on demand (management command)."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import InterfaceError, OperationalError

from billing.models import BillingRun, BillingRunStatus, BillingRunTrigger, Invoice
from billing.premium import month_before, month_first
from billing.tasks import billing_run_month
from portal.timeutils import business_today
from tests.support.billing import guarantee
from tests.support.factories import BuyerFactory
from tests.support.scopes import insurer_scope
from tests.support.world import World
from unlockplus.celery import app as celery_app


def test_beat_bills_on_the_first_at_two_in_the_morning_paris_time() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["billing-month-end"]
    assert entry["task"] == "billing.tasks.billing_run_month"
    assert entry["schedule"] == crontab(minute=0, hour=2, day_of_month=1)
    assert settings.CELERY_TIMEZONE == "Europe/Paris"


@pytest.mark.parametrize(
    ("entry", "task", "queue", "schedule", "every"),
    [
        (
            "billing-runs-supervise",
            "billing.tasks.billing_run_supervise",
            "billing",
            crontab(minute="*/5"),
            300,
        ),
        ("billing-pdfs-sweep", "billing.tasks.invoice_render_sweep", "pdf", 60.0, 60),
    ],
)
def test_beat_supervises_the_runs_and_sweeps_the_pdfs_on_their_queues(
    entry: str, task: str, queue: str, schedule: object, every: int
) -> None:
    scheduled = settings.CELERY_BEAT_SCHEDULE[entry]
    assert (scheduled["task"], scheduled["schedule"]) == (task, schedule)
    # A message left behind a backlog expires rather than pile up behind it.
    options: dict[str, int] = scheduled["options"]  # type: ignore[assignment]
    assert 0 < options["expires"] < every
    assert celery_app.amqp.router.route({}, task)["queue"].name == queue
    retried_on = getattr(celery_app.tasks[task], "autoretry_for", ())
    assert OperationalError in retried_on and InterfaceError in retried_on
    assert settings.BILLING_RUN_STALL_SECONDS == 300


@pytest.mark.usefixtures("eager_celery")  # the run fans out as group tasks
def test_a_redelivered_beat_resumes_the_months_unfinished_run(world: World) -> None:
    guarantee(world.alice.contract, BuyerFactory.create(), "40000", date(2020, 1, 1))
    previous = month_before(month_first(business_today()))
    killed = BillingRun.objects.create(
        month=previous, trigger=BillingRunTrigger.BEAT, status=BillingRunStatus.RUNNING
    )
    billing_run_month()  # the message of the killed worker, delivered again
    assert list(BillingRun.objects.values_list("pk", "status", "issued")) == [
        (killed.pk, BillingRunStatus.FINISHED, 1)
    ]


@pytest.mark.usefixtures("eager_celery")  # the run fans out as group tasks
def test_the_beat_task_bills_the_month_before_and_a_duplicate_changes_nothing(
    world: World,
) -> None:
    guarantee(world.alice.contract, BuyerFactory.create(), "40000", date(2020, 1, 1))
    previous = month_before(month_first(business_today()))
    billing_run_month()
    billing_run_month()  # a duplicate beat
    with insurer_scope():
        invoices = list(Invoice.objects.all())
    assert [(invoice.month, invoice.contract_id) for invoice in invoices] == [
        (previous, world.alice.contract.pk)
    ]
    assert sorted(BillingRun.objects.values_list("trigger", "issued")) == [
        (BillingRunTrigger.BEAT, 0),
        (BillingRunTrigger.BEAT, 1),
    ]


def test_the_command_bills_a_past_month(world: World) -> None:
    guarantee(world.bob.contract, BuyerFactory.create(), "40000", date(2026, 1, 1))
    out = StringIO()
    call_command("bill_month", "2026-10", stdout=out)
    assert "1 invoices issued" in out.getvalue()
    call_command("bill_month", "2026-10", stdout=out)
    with insurer_scope():
        assert Invoice.objects.filter(month=date(2026, 10, 1)).count() == 1


@pytest.mark.parametrize("month", ["2999-01", "octobre"])
def test_the_command_refuses_a_month_that_is_not_over_or_not_a_month(
    world: World, month: str
) -> None:
    with pytest.raises(CommandError):
        call_command("bill_month", month, stdout=StringIO())

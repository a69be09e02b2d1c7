"""One provider interface: a second provider (a commercial feed built in the tests) goes through
the same sweep as the built-in file provider; the sweep reads each provider from where it
stopped, and resumes a file whose import was lost."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone
from pytest_django import Settings

from monitoring.models import Alert, FileStatus, GradeChange, HealthFile, ProceedingsNotice
from monitoring.providers import BuyerHealthProvider, FileProvider
from monitoring.services.imports import health_file_receive, monitoring_sweep
from monitoring.tasks import monitoring_sweep_task
from portal.models import Notification
from tests.monitoring import feed as feeds
from tests.monitoring.feed import CommercialFeed, at
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.monitoring import json_lines, notice
from tests.support.world import World
from underwriting.models import ProceedingsStatus

pytestmark = pytest.mark.django_db


def test_both_providers_meet_the_interface() -> None:
    assert isinstance(CommercialFeed(), BuyerHealthProvider)
    assert isinstance(FileProvider(), BuyerHealthProvider)


def test_a_second_provider_feeds_the_same_sweep(world: World) -> None:
    buyer = BuyerFactory.create(grade=8)
    GuaranteeFactory.create(
        contract=world.alice.contract, buyer=buyer, period=DateRange(date(2026, 1, 1), None, "[)")
    )
    feed = CommercialFeed()
    feed.opening(buyer.siren, number="77", judged_on=date(2026, 11, 20), at=at(21))
    feed.grade(buyer.siren, grade=4, on=date(2026, 11, 20), at=at(21))

    applied = monitoring_sweep(providers=[feed])

    assert (applied.notices, applied.grades, applied.alerts) == (1, 1, 2)
    buyer.refresh_from_db()
    assert (buyer.proceedings, buyer.grade) == (ProceedingsStatus.RECEIVERSHIP, 4)
    assert ProceedingsNotice.objects.get().provider == "flux-commercial"
    assert Notification.objects.filter(recipient=world.alice.credit_manager).count() == 2

    # The next sweep asks only for what arrived since, and what it gets again changes nothing.
    feed.grade(buyer.siren, grade=1, on=date(2026, 11, 25), at=timezone.now())
    again = monitoring_sweep(providers=[feed])
    assert feed.calls[0] is None and feed.calls[1] is not None
    assert (again.grades, again.alerts) == (1, 1)
    assert GradeChange.objects.count() == 2
    assert Alert.objects.count() == 3


def test_the_daily_task_reads_the_configured_providers(world: World, settings: Settings) -> None:
    buyer = BuyerFactory.create(grade=8)
    feeds.SHARED.items.clear()
    feeds.SHARED.grade(buyer.siren, grade=5, on=date(2026, 11, 20), at=at(21))
    settings.MONITORING_PROVIDERS = ["tests.monitoring.feed.shared_feed"]

    counts = monitoring_sweep_task()

    assert counts["grades"] == 1 and counts["alerts"] == 1
    buyer.refresh_from_db()
    assert buyer.grade == 5


def test_the_sweep_resumes_a_file_whose_import_was_lost(world: World, settings: Settings) -> None:
    """The file was kept, and its task never ran (a broker outage at commit)."""
    settings.MONITORING_ASYNC_BYTES = 10  # every file goes to a worker, which never comes
    buyer = BuyerFactory.create()
    arbiter = world.staff["arbiter"]
    file = health_file_receive(
        kind="bodacc",
        name="perdu.jsonl",
        content=json_lines(notice(siren=buyer.siren)),
        actor=arbiter,
    )
    assert HealthFile.objects.get(pk=file.pk).status == FileStatus.RECEIVED

    monitoring_sweep(providers=[])

    file.refresh_from_db()
    assert file.status == FileStatus.APPLIED
    assert file.records == 1
    buyer.refresh_from_db()
    assert buyer.proceedings == ProceedingsStatus.RECEIVERSHIP


def test_beat_runs_the_sweep_daily(settings: Settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["monitoring-daily-sweep"]
    assert entry["task"] == "monitoring.tasks.monitoring_sweep_task"
    assert monitoring_sweep_task.name == entry["task"]


def test_the_providers_setting_must_name_providers(settings: Settings) -> None:
    settings.MONITORING_PROVIDERS = ["collections.OrderedDict"]
    with pytest.raises(TypeError):
        monitoring_sweep()

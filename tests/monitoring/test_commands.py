"""The monitoring commands: import a file in this process (counters, rejected lines, a refused
file exits non-zero) and run the sweep, each acting as a named insurer user."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from monitoring.models import Alert, FileStatus, HealthFile
from portal.models import AuditEvent, Role, User
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.monitoring import RECEIVERSHIP, grades_csv, json_lines, notice
from tests.support.world import World
from underwriting.models import Buyer

pytestmark = pytest.mark.django_db


def _exposed_buyer(world: World) -> Buyer:
    buyer: Buyer = BuyerFactory.create(grade=7)
    GuaranteeFactory.create(contract=world.alice.contract, buyer=buyer)
    return buyer


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_imports_a_bodacc_file_and_prints_counters_and_rejected_lines(
    world: World, tmp_path: Path
) -> None:
    buyer = _exposed_buyer(world)
    path = tmp_path / "bodacc.jsonl"
    path.write_bytes(json_lines(notice(siren=buyer.siren or "", nature=RECEIVERSHIP), "{oops"))

    out = _run("import_health_file", str(path), "--kind", "bodacc")

    file = HealthFile.objects.get()
    assert (file.status, file.name, file.records, file.alerts) == (
        FileStatus.APPLIED,
        "bodacc.jsonl",
        1,
        1,
    )
    # The default actor: the first active insurer admin, named in the audit trail.
    assert file.received_by == world.staff[Role.ADMIN]
    assert AuditEvent.objects.filter(action="health_file.received", actor=file.received_by)
    assert "ligne 2 :" in out
    assert "alertes : 1" in out

    again = _run("import_health_file", str(path), "--kind", "bodacc")

    assert "nouveaux : 0" in again
    assert Alert.objects.count() == 1


def test_it_acts_as_the_named_arbiter_and_imports_grades(
    world: World, arbiter: User, tmp_path: Path
) -> None:
    buyer = _exposed_buyer(world)
    path = tmp_path / "notes.csv"
    path.write_bytes(grades_csv((buyer.siren or "", "2026-11-02", 3, "Banque de France")))

    out = _run("import_health_file", str(path), "--kind", "grades", "--as", arbiter.username)

    assert HealthFile.objects.get().received_by == arbiter
    assert "alertes : 1" in out
    buyer.refresh_from_db()
    assert buyer.grade == 3


def test_a_refused_file_exits_non_zero(world: World, tmp_path: Path) -> None:
    path = tmp_path / "vide.jsonl"
    path.write_bytes(b"")

    with pytest.raises(CommandError, match="vide"):
        _run("import_health_file", str(path), "--kind", "bodacc")

    assert not HealthFile.objects.exists()


def test_a_user_who_may_not_import_is_refused(world: World, tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(json_lines(notice()))

    for user in (world.alice.credit_manager, world.staff[Role.FINANCE_OPS]):
        with pytest.raises(CommandError):
            _run("import_health_file", str(path), "--kind", "bodacc", "--as", user.username)
    with pytest.raises(CommandError):
        _run("import_health_file", str(path), "--kind", "bodacc", "--as", "nobody@x.test")

    assert not HealthFile.objects.exists()


def test_the_sweep_prints_its_counts(world: World, arbiter: User) -> None:
    out = _run("monitoring_sweep", "--as", arbiter.username)

    assert "alertes : 0" in out
    assert "annonces appliquées : 0" in out

"""Grade changes applied: a fall of 2 or more, or a fall to 3 or less, alerts the exposed
parties once (a fall meeting both rules is one alert); a small fall, a rise and history filled
in afterwards alert nobody; the buyer's grade is its latest."""

from __future__ import annotations

import pytest

from monitoring.models import Alert, FileStatus, GradeChange, HealthFile
from portal.models import Notification, User
from tests.support.monitoring import exposed_buyer, grades_csv, imported
from tests.support.world import World
from underwriting.models import Buyer

pytestmark = pytest.mark.django_db


def _grades(arbiter: User, *rows: tuple[str | None, str, int | str, str]) -> HealthFile:
    return imported(arbiter, grades_csv(*rows), kind="grades", name="notes.csv")


def _exposed(world: World, grade: int) -> Buyer:
    return exposed_buyer((world.alice, "40000"), grade=grade)


def test_a_fall_of_two_points_alerts_once(world: World, arbiter: User) -> None:
    buyer = _exposed(world, 8)

    file = _grades(arbiter, (buyer.siren, "2026-11-02", 6, "Agence A"))

    assert file.alerts == 1
    [alert] = Alert.objects.all()
    assert (alert.rule, alert.rules, alert.data["from"], alert.data["to"]) == (
        "grade_fall",
        ["grade_fall"],
        8,
        6,
    )
    buyer.refresh_from_db()
    assert buyer.grade == 6
    subjects = set(Notification.objects.values_list("subject", flat=True))
    assert subjects == {f"Alerte : note de {buyer.name} passée de 8 à 6"}


def test_a_fall_to_three_or_less_alerts_even_by_one_point(world: World, arbiter: User) -> None:
    buyer = _exposed(world, 4)

    _grades(arbiter, (buyer.siren, "2026-11-02", 3, "Agence A"))

    [alert] = Alert.objects.all()
    assert alert.rules == ["grade_low"]


def test_a_fall_meeting_both_rules_is_one_alert(world: World, arbiter: User) -> None:
    buyer = _exposed(world, 6)
    notifications = Notification.objects.count()

    _grades(arbiter, (buyer.siren, "2026-11-02", 2, "Agence A"))

    [alert] = Alert.objects.all()
    assert alert.rules == ["grade_low", "grade_fall"]
    # alice's credit manager and org admin, its broker, its arbiter: one message each.
    assert Notification.objects.count() - notifications == 4


def test_small_falls_rises_and_low_grades_that_stay_low_alert_nobody(
    world: World, arbiter: User
) -> None:
    steady = _exposed(world, 7)
    rising = _exposed(world, 3)
    already_low = _exposed(world, 3)

    file = _grades(
        arbiter,
        (steady.siren, "2026-11-02", 6, "Agence A"),
        (rising.siren, "2026-11-02", 6, "Agence A"),
        (already_low.siren, "2026-11-02", 2, "Agence A"),
    )

    assert file.status == FileStatus.APPLIED
    assert file.alerts == 0
    assert Alert.objects.count() == 0


def test_successive_falls_in_one_file_are_compared_in_date_order(
    world: World, arbiter: User
) -> None:
    buyer = _exposed(world, 9)

    _grades(
        arbiter,
        (buyer.siren, "2026-10-01", 5, "Agence A"),  # 9 → 5: a fall of 4
        (buyer.siren, "2026-09-01", 8, "Agence A"),  # 9 → 8 first, in date order
        (buyer.siren, "2026-11-01", 4, "Agence A"),  # 5 → 4: nothing
    )

    assert list(Alert.objects.values_list("data__from", "data__to")) == [(8, 5)]
    assert list(
        GradeChange.objects.order_by("effective_on").values_list("previous_grade", "grade")
    ) == [(9, 8), (8, 5), (5, 4)]
    buyer.refresh_from_db()
    assert buyer.grade == 4


def test_history_filled_in_afterwards_alerts_nobody_and_keeps_the_latest_grade(
    world: World, arbiter: User
) -> None:
    buyer = _exposed(world, 7)
    _grades(arbiter, (buyer.siren, "2026-11-01", 7, "Agence A"))

    file = _grades(arbiter, (buyer.siren, "2026-06-01", 2, "Agence A"))

    assert file.alerts == 0
    buyer.refresh_from_db()
    assert buyer.grade == 7


def test_the_same_grade_file_twice_changes_nothing(world: World, arbiter: User) -> None:
    buyer = _exposed(world, 8)
    rows = ((buyer.siren, "2026-11-02", 5, "Agence A"),)
    _grades(arbiter, *rows)
    notifications = Notification.objects.count()

    again = _grades(arbiter, *rows)

    assert (again.new_records, again.alerts) == (0, 0)
    assert Notification.objects.count() == notifications
    assert GradeChange.objects.count() == 1


def test_a_bad_grade_line_is_reported_with_its_number(world: World, arbiter: User) -> None:
    buyer = _exposed(world, 8)

    file = _grades(
        arbiter,
        (buyer.siren, "2026-11-02", 5, "Agence A"),
        (buyer.siren, "2026-11-03", 14, "Agence A"),
    )

    assert [problem["line"] for problem in file.problems] == [3]
    assert file.records == 1

"""The grade chart is SVG drawn on the server: read back as XML, it holds a point per grade
change with its tooltip, French dates on its axis, the risk zone, a marker per opening or
closure in force, a title and a description, and escapes every text it is given."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date

import pytest
from django.utils import translation

from monitoring.charts import GradePoint, Judgment, date_ticks, grade_chart, grade_sparkline

SVG = "{http://www.w3.org/2000/svg}"
TODAY = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _french() -> Iterator[None]:
    with translation.override("fr"):
        yield


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 - our own markup


def _all(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    found = root.iter(f"{SVG}{tag}")
    return [e for e in found if cls is None or cls in (e.get("class") or "").split()]


def _title(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None and title.text is not None
    return title.text


HISTORY = [
    GradePoint(date(2026, 1, 5), 7, "Agence A"),
    GradePoint(date(2026, 6, 1), 5, "Agence A"),
    GradePoint(date(2026, 11, 2), 3, "Agence B"),
]


def test_each_grade_change_is_a_point_with_its_date_and_grade_in_a_tooltip() -> None:
    root = _parse(grade_chart(reversed(HISTORY), today=TODAY, title="Note de Exemple"))

    points = _all(root, "circle", "grade-point")
    assert [(p.get("data-date"), p.get("data-grade")) for p in points] == [
        ("2026-01-05", "7"),
        ("2026-06-01", "5"),
        ("2026-11-02", "3"),
    ]
    assert [_title(p) for p in points] == [
        "05/01/2026 : note 7/10 (Agence A)",
        "01/06/2026 : note 5/10 (Agence A)",
        "02/11/2026 : note 3/10 (Agence B)",
    ]
    # Later dates lie to the right, better grades higher up (smaller y).
    xs = [float(p.get("cx", "")) for p in points]
    ys = [float(p.get("cy", "")) for p in points]
    assert xs == sorted(xs) and ys == sorted(ys)


def test_the_grade_is_a_step_line_held_until_today() -> None:
    root = _parse(grade_chart(HISTORY, today=TODAY, title="t"))

    [line] = _all(root, "path", "grade-line")
    commands = [c.strip() for c in re.findall(r"[MHV][^MHV]*", line.get("d", ""))]
    # Start at the first point, then only horizontal and vertical moves: a step line.
    assert commands[0].startswith("M")
    assert [command[0] for command in commands[1:]] == ["H", "V", "H", "V", "H"]
    points = _all(root, "circle", "grade-point")
    assert commands[0] == f"M{points[0].get('cx')} {points[0].get('cy')}"
    # The last grade is held to the right edge of the plot: today.
    axis = [e for e in _all(root, "line") if e.get("stroke") == "#5b6475"][0]
    assert commands[-1].strip() == f"H{axis.get('x2')}"


def test_the_axis_is_dated_in_french_and_the_grades_run_from_0_to_10() -> None:
    root = _parse(grade_chart(HISTORY, today=TODAY, title="t"))

    labels = [e.text or "" for e in _all(root, "text", "x-label")]
    assert 2 <= len(labels) <= 5
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", label) for label in labels)
    assert "01/02/2026" in labels
    grades = [e.text for e in _all(root, "text", "y-label")]
    assert grades == ["0", "2", "4", "6", "8", "10"]


def test_the_risk_zone_covers_grades_of_3_or_less() -> None:
    root = _parse(grade_chart(HISTORY, today=TODAY, title="t"))

    [zone] = _all(root, "rect", "risk-zone")
    assert "3 ou moins" in _title(zone)
    top = float(zone.get("y", ""))
    bottom = top + float(zone.get("height", ""))
    by_grade = {p.get("data-grade"): float(p.get("cy", "")) for p in _all(root, "circle")}
    assert top < by_grade["3"] <= bottom  # a 3 is inside
    assert by_grade["5"] < top  # a 5 is above
    # A point at risk is drawn in the error colour.
    colours = {p.get("data-grade"): p.get("fill") for p in _all(root, "circle", "grade-point")}
    assert colours["3"] != colours["5"]


def test_openings_and_closures_in_force_are_marked_and_others_are_not() -> None:
    notices = [
        Judgment(date(2026, 11, 20), "receivership", "TRIBUNAL DE COMMERCE DE LYON"),
        Judgment(date(2026, 11, 25), "closure", ""),
        Judgment(date(2026, 10, 1), "liquidation", "TC", state="withdrawn"),
        Judgment(date(2026, 10, 2), "safeguard", "TC", state="replaced"),
        Judgment(date(2026, 10, 3), "plan", "TC"),
        Judgment(None, "receivership", "TC"),
    ]
    root = _parse(grade_chart(HISTORY, judgments=notices, today=TODAY, title="t"))

    marks = _all(root, "g", "judgment")
    assert [(m.get("data-event"), m.get("data-date")) for m in marks] == [
        ("receivership", "2026-11-20"),
        ("closure", "2026-11-25"),
    ]
    assert _title(marks[0]) == (
        "20/11/2026 : Ouverture d'un redressement judiciaire — TRIBUNAL DE COMMERCE DE LYON"
    )
    assert _title(marks[1]) == "25/11/2026 : Clôture"
    # An opening is a triangle, a closure a square.
    assert marks[0].find(f"{SVG}polygon") is not None
    assert marks[1].find(f"{SVG}rect") is not None
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "redressement judiciaire" in (desc.text or "")


def test_a_screen_reader_gets_a_title_and_a_description() -> None:
    root = _parse(grade_chart(HISTORY, today=TODAY, title="Note de Exemple", chart_id="c1"))

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "c1-title"
    assert title.text == "Note de Exemple"
    assert desc is not None and desc.get("id") == "c1-desc"
    assert desc.text is not None
    assert "3 changements de note, de 7/10 le 05/01/2026 à 3/10 le 02/11/2026" in desc.text


def test_every_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & Cie'
    root = _parse(
        grade_chart(
            [GradePoint(date(2026, 3, 1), 6, hostile)],
            judgments=[Judgment(date(2026, 4, 1), "liquidation", hostile)],
            today=TODAY,
            title=hostile,
            chart_id='x" onload="evil',
        )
    )

    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    assert root.get("onload") is None
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == hostile
    [point] = _all(root, "circle", "grade-point")
    assert _title(point).endswith(f"({hostile})")
    [mark] = _all(root, "g", "judgment")
    assert _title(mark).endswith(hostile)


def test_no_history_is_a_plain_message_not_an_empty_plot() -> None:
    root = _parse(grade_chart([], today=TODAY, title="Note de Exemple"))

    assert not _all(root, "circle") and not _all(root, "path")
    [message] = _all(root, "text", "empty")
    assert message.text == "Aucun changement de note enregistré."
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text == "Aucun changement de note enregistré."


def test_a_single_change_today_still_draws_a_dated_axis() -> None:
    root = _parse(grade_chart([GradePoint(TODAY, 4)], today=TODAY, title="t"))

    [point] = _all(root, "circle", "grade-point")
    assert point.get("data-grade") == "4"
    assert _all(root, "text", "x-label")


def test_the_sparkline_draws_the_grade_from_the_start_of_its_window() -> None:
    markup = grade_sparkline(
        [GradePoint(date(2025, 1, 1), 9), GradePoint(date(2026, 6, 1), 4)],
        since=date(2025, 12, 1),
        today=TODAY,
        start_grade=7,
        label="Note sur 12 mois : de 7/10 à 4/10",
    )
    root = _parse(markup)

    assert root.get("role") == "img"
    assert root.get("aria-label") == "Note sur 12 mois : de 7/10 à 4/10"
    [path] = _all(root, "path")
    commands = [c.strip() for c in re.findall(r"[MHV][^MHV]*", path.get("d", ""))]
    # From the window's start at 7, one step down to 4 (the 2025 change is before the window).
    assert [command[0] for command in commands] == ["M", "H", "V", "H"]
    [end] = _all(root, "circle")
    start_y = float(commands[0].split()[1])
    assert float(end.get("cy", "")) > start_y


def test_a_sparkline_without_any_grade_is_a_dashed_line() -> None:
    root = _parse(
        grade_sparkline([], since=date(2025, 12, 1), today=TODAY, start_grade=None, label="—")
    )

    assert not _all(root, "path")
    [line] = _all(root, "line")
    assert line.get("stroke-dasharray")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 11, 1), date(2026, 12, 1)),
        (date(2020, 1, 15), date(2026, 12, 1)),
        (date(2026, 1, 31), date(2026, 4, 3)),
        (date(2026, 12, 1), date(2026, 12, 1)),
    ],
)
def test_axis_dates_stay_within_the_span_and_are_few(start: date, end: date) -> None:
    ticks = date_ticks(start, end)

    assert 1 <= len(ticks) <= 5
    assert ticks == sorted(set(ticks))
    assert all(start <= tick <= end for tick in ticks)

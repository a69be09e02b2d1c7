"""A buyer's grade over time as inline SVG, drawn on the server (DESIGN §6, issue 9 "Screens").

No JavaScript and no stylesheet of its own: the CSP allows scripts and styles from our origin
only and refuses inline `style=` attributes, so the drawing uses SVG presentation attributes
(`fill`, `stroke`, ...), which are not CSS. Every text written into the SVG is escaped here,
which is why the result is marked safe for the templates.

Pure functions: they read what they are given (grade changes, proceedings notices, dates) and
return markup; the views load the history through `monitoring.selectors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Protocol

from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from monitoring.models import OPENINGS, JudgmentEvent, NoticeState

RISK_GRADE = 3  # DESIGN §4: a grade of 3 or below is a risk (proposal 0, alert)
MAX_GRADE = 10

# The palette of static/css/app.css (--brand, --err, --ok, --line, --muted, --ink).
BRAND = "#0b5fff"
ERR = "#b3261e"
OK = "#137333"
LINE = "#d9dee7"
MUTED = "#5b6475"
RISK_FILL = "#fce8e6"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


class GradeLike(Protocol):
    """A grade from a date (`GradeChange`, or `GradePoint` in tests and elsewhere)."""

    @property
    def effective_on(self) -> date: ...
    @property
    def grade(self) -> int: ...
    @property
    def source(self) -> str: ...


class JudgmentLike(Protocol):
    """A proceedings notice (`ProceedingsNotice`, or `Judgment`)."""

    @property
    def judged_on(self) -> date | None: ...
    @property
    def event(self) -> str: ...
    @property
    def court(self) -> str: ...
    @property
    def state(self) -> str: ...


@dataclass(frozen=True)
class GradePoint:
    effective_on: date
    grade: int
    source: str = ""


@dataclass(frozen=True)
class Judgment:
    judged_on: date | None
    event: str
    court: str = ""
    state: str = NoticeState.ACTIVE.value


def _esc(value: object) -> str:
    return escape(str(value), quote=True)


def _short(day: date) -> str:
    return date_format(day, "SHORT_DATE_FORMAT")


def _num(value: float) -> str:
    """Coordinates with at most one decimal, no trailing zeros (stable, compact markup)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _marks(judgments: Iterable[JudgmentLike]) -> list[JudgmentLike]:
    """The judgments worth a marker: openings and closures in force, with a judgment date."""
    wanted = {*(event.value for event in OPENINGS), JudgmentEvent.CLOSURE.value}
    return sorted(
        (
            notice
            for notice in judgments
            if notice.judged_on is not None
            and notice.state == NoticeState.ACTIVE
            and notice.event in wanted
        ),
        key=lambda notice: notice.judged_on or date.min,
    )


def _judgment_label(notice: JudgmentLike) -> str:
    label = str(JudgmentEvent(notice.event).label)
    assert notice.judged_on is not None
    text = _("%(date)s : %(event)s") % {"date": _short(notice.judged_on), "event": label}
    return f"{text} — {notice.court}" if notice.court else text


def _grade_label(point: GradeLike) -> str:
    text = _("%(date)s : note %(grade)s/10") % {
        "date": _short(point.effective_on),
        "grade": point.grade,
    }
    return f"{text} ({point.source})" if point.source else text


def _month_starts(start: date, end: date) -> list[date]:
    months = []
    day = date(start.year, start.month, 1)
    if day < start:
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    while day <= end:
        months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


def date_ticks(start: date, end: date, *, most: int = 5) -> list[date]:
    """At most `most` dates to label an axis from `start` to `end`: first days of months spread
    evenly over a long span, evenly spaced days over a short one."""
    span = (end - start).days
    months = _month_starts(start, end) if span > 62 else []
    if len(months) >= 2:
        step = -(-len(months) // most)
        return months[::step]
    if span <= 0:
        return [start]
    count = min(most, span + 1)
    return sorted({start + timedelta(days=round(i * span / (count - 1))) for i in range(count)})


@dataclass(frozen=True)
class _Frame:
    """The plot area and its scales: x by date over [start, end], y by grade over 0–10."""

    start: date
    end: date
    left: float
    right: float
    top: float
    bottom: float

    def x(self, day: date) -> float:
        span = max((self.end - self.start).days, 1)
        return self.left + (day - self.start).days * (self.right - self.left) / span

    def y(self, grade: float) -> float:
        return self.bottom - grade * (self.bottom - self.top) / MAX_GRADE


def _step_path(frame: _Frame, points: Sequence[GradeLike], *, first: int | None = None) -> str:
    """The grade as a step line: each grade holds until the next change, the last until the
    end of the frame. `first` is the grade in force at the frame's start, if known."""
    parts: list[str] = []
    if first is not None:
        parts.append(f"M{_num(frame.left)} {_num(frame.y(first))}")
    for point in points:
        x, y = _num(frame.x(point.effective_on)), _num(frame.y(point.grade))
        parts.append(f"H{x} V{y}" if parts else f"M{x} {y}")
    if parts:
        parts.append(f"H{_num(frame.right)}")
    return " ".join(parts)


def _describe(points: Sequence[GradeLike], marks: Sequence[JudgmentLike]) -> str:
    if not points:
        text = _("Aucun changement de note enregistré.")
    else:
        first, last = points[0], points[-1]
        text = ngettext(
            "Un changement de note : %(last)s/10 le %(last_date)s.",
            "%(count)s changements de note, de %(first)s/10 le %(first_date)s à %(last)s/10 "
            "le %(last_date)s.",
            len(points),
        ) % {
            "first": first.grade,
            "first_date": _short(first.effective_on),
            "last": last.grade,
            "last_date": _short(last.effective_on),
            "count": len(points),
        }
        text += " " + _("Une note de 3 ou moins est un risque.")
    if marks:
        text += " " + _("Jugements : %(list)s.") % {
            "list": " ; ".join(_judgment_label(notice) for notice in marks)
        }
    return text


def grade_chart(
    grades: Iterable[GradeLike],
    *,
    today: date,
    title: str,
    judgments: Iterable[JudgmentLike] = (),
    chart_id: str = "grade-chart",
    width: int = 640,
    height: int = 250,
) -> SafeString:
    """The grade over time: a step line on a 0–10 axis with the risk zone (3 or below) shaded,
    a dated x axis, a point per change and a marker per opening or closure of proceedings,
    each with its tooltip; `<title>` and `<desc>` tell a screen reader the same."""
    points = sorted(grades, key=lambda point: point.effective_on)
    marks = _marks(judgments)
    ident = _esc(chart_id)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="grade-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="{_esc(FONT)}" '
        f'font-size="11" data-testid="grade-chart">'
        f'<title id="{ident}-title">{_esc(title)}</title>'
        f'<desc id="{ident}-desc">{_esc(_describe(points, marks))}</desc>'
    )
    if not points and not marks:
        empty = _("Aucun changement de note enregistré.")
        return mark_safe(  # noqa: S308 - every text and attribute value is escaped by _esc
            head + f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" '
            f'fill="none" stroke="{LINE}" rx="6"/>'
            f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" fill="{MUTED}" '
            f'class="empty">{_esc(empty)}</text></svg>'
        )
    days = [point.effective_on for point in points] + [
        notice.judged_on for notice in marks if notice.judged_on is not None
    ]
    start, end = min(days), max([*days, today])
    if end == start:
        start = end - timedelta(days=30)
    frame = _Frame(start, end, left=40, right=width - 16, top=22, bottom=height - 62)
    parts = [head]
    # The risk zone, then the grade grid and its labels.
    risk_top = frame.y(RISK_GRADE + 0.5)  # a point at 3 sits inside the zone, not on its edge
    parts.append(
        f'<rect class="risk-zone" x="{_num(frame.left)}" y="{_num(risk_top)}" '
        f'width="{_num(frame.right - frame.left)}" height="{_num(frame.bottom - risk_top)}" '
        f'fill="{RISK_FILL}"><title>{_esc(_("Zone de risque : note de 3 ou moins"))}</title>'
        "</rect>"
    )
    for grade in range(0, MAX_GRADE + 1, 2):
        y = _num(frame.y(grade))
        parts.append(
            f'<line x1="{_num(frame.left)}" x2="{_num(frame.right)}" y1="{y}" y2="{y}" '
            f'stroke="{LINE}" stroke-width="1"/>'
            f'<text class="y-label" x="{_num(frame.left - 6)}" y="{y}" dy="4" '
            f'text-anchor="end" fill="{MUTED}">{grade}</text>'
        )
    # The dated axis.
    parts.append(
        f'<line x1="{_num(frame.left)}" x2="{_num(frame.right)}" y1="{_num(frame.bottom)}" '
        f'y2="{_num(frame.bottom)}" stroke="{MUTED}" stroke-width="1"/>'
    )
    for day in date_ticks(start, end):
        x = frame.x(day)
        anchor = "start" if x - 32 < 0 else "end" if x + 32 > width else "middle"
        parts.append(
            f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{_num(frame.bottom)}" '
            f'y2="{_num(frame.bottom + 4)}" stroke="{MUTED}"/>'
            f'<text class="x-label" x="{_num(x)}" y="{_num(frame.bottom + 17)}" '
            f'text-anchor="{anchor}" fill="{MUTED}" data-date="{day.isoformat()}">'
            f"{_esc(_short(day))}</text>"
        )
    # Judgments: a dashed line at the judgment date, a triangle for an opening, a square for
    # a closure.
    for notice in marks:
        assert notice.judged_on is not None
        x = frame.x(notice.judged_on)
        closing = notice.event == JudgmentEvent.CLOSURE
        colour = OK if closing else ERR
        shape = (
            f'<rect x="{_num(x - 4)}" y="{_num(frame.top - 10)}" width="8" height="8" '
            f'fill="{colour}"/>'
            if closing
            else f'<polygon points="{_num(x - 5)},{_num(frame.top - 10)} '
            f'{_num(x + 5)},{_num(frame.top - 10)} {_num(x)},{_num(frame.top - 2)}" '
            f'fill="{colour}"/>'
        )
        parts.append(
            f'<g class="judgment" data-event="{_esc(notice.event)}" '
            f'data-date="{notice.judged_on.isoformat()}">'
            f"<title>{_esc(_judgment_label(notice))}</title>"
            f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{_num(frame.top - 2)}" '
            f'y2="{_num(frame.bottom)}" stroke="{colour}" stroke-width="1.5" '
            f'stroke-dasharray="4 3"/>{shape}</g>'
        )
    # The grade as a step line, and a point per change.
    if points:
        parts.append(
            f'<path class="grade-line" d="{_step_path(frame, points)}" fill="none" '
            f'stroke="{BRAND}" stroke-width="2" stroke-linejoin="round"/>'
        )
    for point in points:
        parts.append(
            f'<circle class="grade-point" cx="{_num(frame.x(point.effective_on))}" '
            f'cy="{_num(frame.y(point.grade))}" r="4" '
            f'fill="{ERR if point.grade <= RISK_GRADE else BRAND}" stroke="#fff" '
            f'stroke-width="1.5" data-date="{point.effective_on.isoformat()}" '
            f'data-grade="{int(point.grade)}"><title>{_esc(_grade_label(point))}</title>'
            "</circle>"
        )
    parts.append(_legend(y=height - 14, with_judgments=bool(marks)))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text and attribute value is escaped


def _legend(*, y: int, with_judgments: bool) -> str:
    items = [
        f'<line x1="0" x2="18" y1="-4" y2="-4" stroke="{BRAND}" stroke-width="2"/>'
        f'<text x="24" y="0" fill="{MUTED}">{_esc(_("Note"))}</text>',
        f'<rect x="0" y="-10" width="18" height="10" fill="{RISK_FILL}"/>'
        f'<text x="24" y="0" fill="{MUTED}">{_esc(_("Note de 3 ou moins"))}</text>',
    ]
    if with_judgments:
        items += [
            f'<polygon points="4,-10 14,-10 9,-2" fill="{ERR}"/>'
            f'<text x="24" y="0" fill="{MUTED}">{_esc(_("Ouverture de procédure"))}</text>',
            f'<rect x="5" y="-10" width="8" height="8" fill="{OK}"/>'
            f'<text x="24" y="0" fill="{MUTED}">{_esc(_("Clôture"))}</text>',
        ]
    return (
        f'<g class="legend" transform="translate(40 {y})" aria-hidden="true">'
        + "".join(
            f'<g transform="translate({index * 150} 0)">{item}</g>'
            for index, item in enumerate(items)
        )
        + "</g>"
    )


def grade_sparkline(
    grades: Iterable[GradeLike],
    *,
    since: date,
    today: date,
    start_grade: int | None,
    label: str,
    width: int = 96,
    height: int = 24,
) -> SafeString:
    """A small step line of the grade from `since` to `today` (`start_grade` in force at
    `since`), the risk zone shaded, for a table cell; `label` is what a screen reader hears."""
    points = sorted(
        (point for point in grades if since < point.effective_on <= today),
        key=lambda point: point.effective_on,
    )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="grade-sparkline" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{_esc(label)}"><title>{_esc(label)}</title>'
    )
    if start_grade is None and not points:
        return mark_safe(  # noqa: S308 - the only text, the label, is escaped
            head + f'<line x1="2" x2="{width - 2}" y1="{height // 2}" y2="{height // 2}" '
            f'stroke="{LINE}" stroke-dasharray="2 3"/></svg>'
        )
    frame = _Frame(since, today, left=2, right=width - 4, top=2, bottom=height - 2)
    risk_top = frame.y(RISK_GRADE + 0.5)
    last = points[-1].grade if points else start_grade
    assert last is not None
    end_x, end_y = _num(frame.right), _num(frame.y(last))
    return mark_safe(  # noqa: S308 - the only text, the label, is escaped
        head + f'<rect x="0" y="{_num(risk_top)}" width="{width}" '
        f'height="{_num(height - risk_top)}" fill="{RISK_FILL}"/>'
        f'<path d="{_step_path(frame, points, first=start_grade)}" fill="none" '
        f'stroke="{BRAND}" stroke-width="1.5"/>'
        f'<circle cx="{end_x}" cy="{end_y}" r="2.5" '
        f'fill="{ERR if last <= RISK_GRADE else BRAND}"/></svg>'
    )


def buyer_grade_chart(
    name: str, grades: Iterable[GradeLike], notices: Iterable[JudgmentLike], *, today: date
) -> SafeString:
    """The chart of the wholesaler's buyer page and of the arbiter's risk file."""
    return grade_chart(
        grades,
        judgments=notices,
        today=today,
        title=_("Évolution de la note de %(buyer)s") % {"buyer": name},
    )

"""Cover in force over the last 12 months as inline SVG, drawn on the server like the grade
charts (`monitoring/charts.py`, whose palette and escaping it shares): no JavaScript, SVG
presentation attributes only (the CSP refuses inline styles), every text escaped here. The
page puts the same figures in a table beside it for whoever does not see the drawing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from monitoring.charts import BRAND, FONT, LINE, MUTED, _esc, _num
from portal.dashboards import CoverPoint
from portal.money import eur

PRIMARY = "#8a94a6"  # the primary layer: quieter than the top-up it carries


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value` (the axis' top)."""
    if value <= 0:
        return Decimal(1000)
    power = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop ends at 10 × power


def money_gridlines(
    *, left: float, right: float, ceiling: Decimal, y: Callable[[Decimal], float]
) -> list[str]:
    """Five horizontal lines from 0 to `ceiling`, each labelled with its amount in euros."""
    lines = []
    for step in range(5):
        amount = ceiling * step / 4
        lines.append(
            f'<line x1="{_num(left)}" x2="{_num(right)}" y1="{_num(y(amount))}" '
            f'y2="{_num(y(amount))}" stroke="{LINE}" stroke-width="1"/>'
            f'<text class="y-label" x="{_num(left - 6)}" y="{_num(y(amount))}" dy="4" '
            f'text-anchor="end" fill="{MUTED}">{_esc(eur(amount, places=0))}</text>'
        )
    return lines


def _month(point: CoverPoint) -> str:
    return date_format(point.on, "m/Y")


def _describe(points: Sequence[CoverPoint]) -> str:
    first, last = points[0], points[-1]
    return _(
        "Couverture totale (primaire + top-up) de %(first)s au %(first_date)s à %(last)s au "
        "%(last_date)s, dont %(top_up)s de top-up."
    ) % {
        "first": eur(first.total),
        "first_date": date_format(first.on, "SHORT_DATE_FORMAT"),
        "last": eur(last.total),
        "last_date": date_format(last.on, "SHORT_DATE_FORMAT"),
        "top_up": eur(last.top_up),
    }


def cover_chart(
    points: Sequence[CoverPoint],
    *,
    title: str,
    chart_id: str = "cover-chart",
    width: int = 640,
    height: int = 240,
) -> SafeString:
    """A stacked bar per month end: the primary limit below, the top-up on it; the y axis in
    euros, each bar with its tooltip; `<title>` and `<desc>` say the same to a screen reader."""
    ident = _esc(chart_id)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cover-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="{_esc(FONT)}" '
        f'font-size="11" data-testid="cover-chart">'
        f'<title id="{ident}-title">{_esc(title)}</title>'
        f'<desc id="{ident}-desc">{_esc(_describe(points))}</desc>'
    )
    left, right, top, bottom = 78.0, width - 12.0, 14.0, height - 46.0
    ceiling = _nice_ceiling(max(point.total for point in points))

    def y(amount: Decimal) -> float:
        return bottom - float(amount / ceiling) * (bottom - top)

    parts = [head, *money_gridlines(left=left, right=right, ceiling=ceiling, y=y)]
    slot = (right - left) / len(points)
    bar = slot * 0.6
    for index, point in enumerate(points):
        x = left + index * slot + (slot - bar) / 2
        tip = _("%(month)s : primaire %(primary)s, top-up %(top_up)s, total %(total)s") % {
            "month": date_format(point.on, "SHORT_DATE_FORMAT"),
            "primary": eur(point.primary),
            "top_up": eur(point.top_up),
            "total": eur(point.total),
        }
        parts.append(
            f'<g class="cover-bar" data-date="{point.on.isoformat()}" '
            f'data-total="{point.total}"><title>{_esc(tip)}</title>'
            f'<rect x="{_num(x)}" y="{_num(y(point.primary))}" width="{_num(bar)}" '
            f'height="{_num(bottom - y(point.primary))}" fill="{PRIMARY}"/>'
            f'<rect x="{_num(x)}" y="{_num(y(point.total))}" width="{_num(bar)}" '
            f'height="{_num(y(point.primary) - y(point.total))}" fill="{BRAND}"/></g>'
            f'<text class="x-label" x="{_num(x + bar / 2)}" y="{_num(bottom + 15)}" '
            f'text-anchor="middle" fill="{MUTED}" font-size="10">{_esc(_month(point))}</text>'
        )
    parts.append(
        f'<line x1="{_num(left)}" x2="{_num(right)}" y1="{_num(bottom)}" y2="{_num(bottom)}" '
        f'stroke="{MUTED}" stroke-width="1"/>'
        f'<g class="legend" transform="translate({_num(left)} {height - 10})" aria-hidden="true">'
        f'<rect x="0" y="-10" width="14" height="10" fill="{PRIMARY}"/>'
        f'<text x="20" y="0" fill="{MUTED}">{_esc(_("Limite primaire"))}</text>'
        f'<rect x="150" y="-10" width="14" height="10" fill="{BRAND}"/>'
        f'<text x="170" y="0" fill="{MUTED}">{_esc(_("Top-up"))}</text></g></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text and attribute value is escaped

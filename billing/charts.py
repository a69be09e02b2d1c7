"""The premium billed per month (finance ops home) as inline SVG bars drawn on the server, with
the palette, escaping and axis rounding of the other charts (`portal/charts.py`); the page shows
the same figures in a table for whoever does not see the drawing."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from billing.selectors import MonthPremium
from monitoring.charts import BRAND, FONT, MUTED, _esc, _num
from portal.charts import _nice_ceiling, money_gridlines
from portal.money import eur


def premium_chart(
    series: Sequence[MonthPremium], *, width: int = 640, height: int = 220
) -> SafeString:
    """One bar per month: the premium billed before tax (net of credit notes)."""
    last = series[-1]
    description = _("Prime facturée HT de %(first)s (%(first_month)s) à %(last)s (%(last_month)s).")
    description %= {
        "first": eur(series[0].premium),
        "first_month": date_format(series[0].month, "m/Y"),
        "last": eur(last.premium),
        "last_month": date_format(last.month, "m/Y"),
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cover-chart" role="img" '
        f'viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" font-family="{_esc(FONT)}" '
        f'font-size="11" aria-labelledby="premium-chart-title premium-chart-desc" '
        f'data-testid="premium-chart"><title id="premium-chart-title">'
        f"{_esc(_('Prime facturée par mois, 12 derniers mois'))}</title>"
        f'<desc id="premium-chart-desc">{_esc(description)}</desc>'
    ]
    left, right, top, bottom = 78.0, width - 12.0, 14.0, height - 30.0
    ceiling = _nice_ceiling(max(max(point.premium for point in series), Decimal(0)))

    def y(amount: Decimal) -> float:
        return bottom - float(max(amount, Decimal(0)) / ceiling) * (bottom - top)

    parts.extend(money_gridlines(left=left, right=right, ceiling=ceiling, y=y))
    slot = (right - left) / len(series)
    bar = slot * 0.6
    for index, point in enumerate(series):
        x = left + index * slot + (slot - bar) / 2
        month = date_format(point.month, "m/Y")
        parts.append(
            f'<g class="premium-bar" data-month="{point.month:%Y-%m}" '
            f'data-premium="{point.premium}"><title>{_esc(f"{month} : {eur(point.premium)}")}'
            f'</title><rect x="{_num(x)}" y="{_num(y(point.premium))}" width="{_num(bar)}" '
            f'height="{_num(bottom - y(point.premium))}" fill="{BRAND}"/></g>'
            f'<text x="{_num(x + bar / 2)}" y="{_num(bottom + 15)}" text-anchor="middle" '
            f'fill="{MUTED}" font-size="10">{_esc(month)}</text>'
        )
    parts.append(
        f'<line x1="{_num(left)}" x2="{_num(right)}" y1="{_num(bottom)}" y2="{_num(bottom)}" '
        f'stroke="{MUTED}" stroke-width="1"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text and attribute value is escaped

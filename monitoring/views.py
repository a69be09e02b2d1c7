"""The policyholder's side of monitoring: its alerts, and the buyers it is exposed to.

For a policyholder's users and its brokers (a broker reads the rows of the clients of its
current mandates, each named); insurer staff have the back-office monitoring page, and get 404
here like anyone else. Rows come through the active scope only.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from monitoring import charts, selectors
from portal import policy
from portal.http import page_user
from portal.timeutils import business_today

PAGE_SIZE = 50
INSIGHTS_SHOWN = 20  # the latest expert insights received, above the alerts


@require_GET
@policy.page_requires(policy.can_see_alert_feed)
def alerts(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.alert_feed(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/alerts.html",
        {
            "page": page,
            "lines": selectors.alert_lines(page.object_list),
            "insight_lines": selectors.insight_lines(selectors.insight_feed()[:INSIGHTS_SHOWN]),
            "for_broker": policy.is_broker_user(page_user(request)),
        },
    )


def _sparkline(row: selectors.WatchRow, *, today: date) -> SafeString:
    end = row.history[-1].grade if row.history else row.start_grade
    label = _("Note sur 12 mois : de %(start)s/10 à %(end)s/10") % {
        "start": "—" if row.start_grade is None else row.start_grade,
        "end": "—" if end is None else end,
    }
    return charts.grade_sparkline(
        row.history, since=row.since, today=today, start_grade=row.start_grade, label=label
    )


@require_GET
@policy.page_requires(policy.can_see_alert_feed)
def watchlist(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "")
    if sort not in selectors.WATCHLIST_SORTS:
        sort = selectors.WATCHLIST_SORTS[0]  # exposure, largest first
    today = business_today()
    page = Paginator(selectors.watched_buyers(sort=sort, on=today), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = selectors.watchlist_rows(page.object_list, on=today)
    lines = [(row, _sparkline(row, today=today)) for row in rows]
    return render(
        request,
        "monitoring/watchlist.html",
        {
            "page": page,
            "lines": lines,
            "sort": sort,
            "query": urlencode({"sort": sort}),
            "for_broker": policy.is_broker_user(page_user(request)),
            "today": today,
        },
    )

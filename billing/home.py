"""What the finance ops home shows of billing (`portal.views.finance_home`): the premium of the
last billed month and its trend over 12 months, the last billing runs, and the invoices unpaid
and overdue with links to the filtered invoice list."""

from __future__ import annotations

from typing import Any

from billing import selectors
from billing.charts import premium_chart

RUNS_SHOWN = 5


def finance_home_context() -> dict[str, Any]:
    series = selectors.premium_by_month(months=12)
    runs = list(selectors.billing_runs(RUNS_SHOWN))
    return {
        "premium_month": series[-1],
        "premium_series": series,
        "premium_trend": selectors.premium_trend(series),
        "premium_chart": premium_chart(series),
        "runs": runs,
        "runs_active": any(run.is_active for run in runs),
        "runs_limit": RUNS_SHOWN,
        "receivables": selectors.open_invoice_figures(),
    }

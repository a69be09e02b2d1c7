"""The invoice-level premium arithmetic of DESIGN §4 (the line premiums are computed in SQL,
see `billing/premium_sql.py`), and month helpers.

- The invoice adds rounded lines.
- Minimum premium: when the lines add up to less than the contract's monthly minimum, an
  adjustment brings the premium up to the minimum (also when nothing was in force).
- Tax: tax rate × (lines + adjustment), rounded half up to the cent.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.translation import gettext as _

from portal.errors import RuleViolation
from portal.money import CENT as CENT
from portal.money import ZERO as ZERO
from portal.money import money as round_cents

# `YYYY-MM`, ASCII digits only and nothing around it (`$` would let a trailing line break in).
MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


def parse_month(value: str) -> date:
    """`YYYY-MM` (the value of `<input type="month">`) as the first day of that month."""
    matched = MONTH_PATTERN.fullmatch(value)
    if matched is not None and int(matched[1]) >= 1 and 1 <= int(matched[2]) <= 12:
        return date(int(matched[1]), int(matched[2]), 1)
    raise RuleViolation(_("Mois attendu au format AAAA-MM."), field="month")


def month_first(day: date) -> date:
    return day.replace(day=1)


def month_after(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_before(first: date) -> date:
    return (first.replace(day=1) - timedelta(days=1)).replace(day=1)


def days_in(first: date) -> int:
    return calendar.monthrange(first.year, first.month)[1]


@dataclass(frozen=True)
class Totals:
    premium_total: Decimal
    minimum_adjustment: Decimal
    tax_amount: Decimal
    total: Decimal


def invoice_totals(
    *, premiums: Iterable[Decimal], minimum_premium: Decimal | None, tax_rate: Decimal | None
) -> Totals:
    premium_total = sum(premiums, ZERO)
    adjustment = ZERO
    if minimum_premium is not None and premium_total < minimum_premium:
        adjustment = minimum_premium - premium_total
    tax = round_cents((premium_total + adjustment) * tax_rate) if tax_rate else ZERO
    return Totals(
        premium_total=premium_total,
        minimum_adjustment=adjustment,
        tax_amount=tax,
        total=premium_total + adjustment + tax,
    )

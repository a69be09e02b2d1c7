"""The premium arithmetic of DESIGN §4, on Decimals, with no database access.

- `peak`: the base is the highest top-up in force on any day of the month.
- `prorata`: the base is Σ amount × days in force / days in the month. The premium is computed
  from the exact quotient, `round(Σ amount × days × rate / days in month)`, so only one rounding
  happens (the one the rule names); the base is shown rounded to the cent, and `amount_days`
  (Σ amount × days, exact) is kept on the line so the premium can be recomputed from the document.
- Line premium = base × rate, rounded half up to the cent; the invoice adds rounded lines.
- Minimum premium: when the lines add up to less than the contract's monthly minimum, an
  adjustment line brings the premium up to the minimum.
- Tax: tax rate × (lines + adjustment), rounded half up.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from underwriting.models import PremiumBasis

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def month_first(day: date) -> date:
    return day.replace(day=1)


def month_after(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_before(first: date) -> date:
    return (first.replace(day=1) - timedelta(days=1)).replace(day=1)


def days_in(first: date) -> int:
    return calendar.monthrange(first.year, first.month)[1]


@dataclass(frozen=True)
class BuyerBase:
    """What the guarantees of one (contract, buyer) amount to over a month (from SQL)."""

    contract_id: UUID
    buyer_id: UUID
    buyer_name: str
    buyer_identifier: str
    peak: Decimal  # highest amount in force on any day of the month
    amount_days: Decimal  # Σ amount × days in force within the month
    days_in_force: int


@dataclass(frozen=True)
class LineAmounts:
    base: Decimal
    amount_days: Decimal
    days_in_force: int
    premium: Decimal


@dataclass(frozen=True)
class Totals:
    premium_total: Decimal
    minimum_adjustment: Decimal
    tax_amount: Decimal
    total: Decimal


def line_amounts(*, buyer: BuyerBase, basis: str, rate: Decimal, days_in_month: int) -> LineAmounts:
    if basis == PremiumBasis.PEAK:
        base = buyer.peak
        premium = round_cents(base * rate)
    else:
        # One division, one rounding: the quotient is exact whenever it lands on a half cent,
        # and 28 significant digits decide every other case.
        base = round_cents(buyer.amount_days / days_in_month)
        premium = round_cents(buyer.amount_days * rate / days_in_month)
    return LineAmounts(
        base=round_cents(base),
        amount_days=buyer.amount_days,
        days_in_force=buyer.days_in_force,
        premium=premium,
    )


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

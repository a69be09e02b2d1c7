"""Money is Decimal EUR with 2 places, rounded half up to the cent where a rule says so."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    """Round half up to the cent (DESIGN §4)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent(rate: Decimal) -> Decimal:
    """0.0012 → 0.12, 0.9 → 90: a rate as the percentage pages print (DESIGN §6), without
    trailing zeros."""
    value = (rate * 100).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value

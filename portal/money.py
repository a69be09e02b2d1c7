"""Money is Decimal EUR with 2 places, rounded half up to the cent where a rule says so; and the
one way amounts and rates are written for people (DESIGN §6), in pages, e-mails and PDFs alike:
`1 234,56 €` (narrow no-break space for thousands, from `unlockplus/formats`) and `0,12 %` in
French, `€1,234.56` and `0.12%` in English."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format
from django.utils.translation import get_language

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


def _english() -> bool:
    return (get_language() or "").startswith("en")


def grouped(value: Decimal | int | str, *, places: int = 2) -> str:
    """The number in the active language, grouped by thousands: 1 234,56 / 1,234.56."""
    return number_format(Decimal(value), decimal_pos=places, use_l10n=True, force_grouping=True)


def eur(value: Decimal | int | str, *, places: int = 2) -> str:
    """An amount in euros as people read it: 1 234,56 € in French, €1,234.56 in English; a
    negative amount keeps its sign in front (-163,50 €, -€163.50)."""
    amount = Decimal(value)
    digits = grouped(abs(amount), places=places)
    sign = "-" if amount < 0 else ""
    return f"{sign}€{digits}" if _english() else f"{sign}{digits} €"


def rate_label(rate: Decimal) -> str:
    """A rate (0.0012, 0.9, 0.09) as a percentage: 0,12 % / 90 % in French, 0.12% in English;
    never the raw decimal."""
    value = percent(Decimal(rate))
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    digits = number_format(value, decimal_pos=places, use_l10n=True, force_grouping=True)
    return f"{digits}%" if _english() else f"{digits} %"

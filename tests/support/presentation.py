"""Amounts as the pages write them (DESIGN §6), built here by hand rather than with the code
under test, so that an assertion on a page catches a formatting slip."""

from __future__ import annotations

from decimal import Decimal

NARROW_NBSP = "\u202f"


def fr_number(amount: Decimal | int | str, *, places: int = 2) -> str:
    """160000 → "160 000,00" (narrow no-break space for thousands)."""
    value = Decimal(amount)
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value):.{places}f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = NARROW_NBSP.join(groups)
    return f"{sign}{text},{cents}" if places else f"{sign}{text}"


def fr_eur(amount: Decimal | int | str) -> str:
    """160000 → "160 000,00 €"."""
    return f"{fr_number(amount)} €"


def en_eur(amount: Decimal | int | str) -> str:
    """160000 → "€160,000.00"."""
    value = Decimal(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}€{abs(value):,.2f}"

"""Template filters of the claim pages and statement."""

from __future__ import annotations

from decimal import Decimal

from django import template

from portal.money import eur

register = template.Library()


@register.filter
def exact(value: Decimal | str | None) -> str:
    """An amount before rounding, in euros with every decimal it has (at least two):
    36 000,00 € or 111,105 €, so that the rounding line can be checked by hand."""
    if value is None or value == "":
        return ""
    amount = Decimal(value)
    exponent = amount.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return eur(amount, places=places)

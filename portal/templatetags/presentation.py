"""The filters every page uses to write money, rates, grades and proceedings (DESIGN §6); a
template builtin (settings.TEMPLATES), so no {% load %} is needed.

    {{ invoice.total|eur }}              1 234,56 €  /  €1,234.56
    {{ contract.monthly_rate|rate }}     0,12 %      /  0.12%
    {{ buyer.grade|grade }}              note 5/10 (risque moyen)
    {{ buyer.get_proceedings_display|proceedings }}   Procédure collective : aucune
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from portal import money, presentation

register = template.Library()


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def eur(value: object, places: int = 2) -> str:
    """An amount in euros; empty for no amount."""
    amount = _decimal(value)
    return money.eur(amount, places=int(places)) if amount is not None else ""


@register.filter
def rate(value: object) -> str:
    """A rate (0.0012) as a percentage (0,12 %); empty for no rate."""
    amount = _decimal(value)
    return money.rate_label(amount) if amount is not None else ""


@register.filter
def grade(value: int | None) -> str:
    return presentation.grade_label(value)


@register.filter
def proceedings(display: str) -> str:
    return presentation.proceedings_label(str(display))

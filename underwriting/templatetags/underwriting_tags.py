from datetime import date, timedelta
from decimal import Decimal

from django import template

from portal.money import percent as as_percent

register = template.Library()


@register.filter
def add_days(value: date | None, days: int) -> date | None:
    """Show an exclusive upper bound as the last day covered: {{ upper|add_days:-1 }}."""
    return value + timedelta(days=int(days)) if value else None


@register.filter
def percent(rate: Decimal | None) -> Decimal | None:
    """A rate as a percentage: {{ contract.monthly_rate|percent }} % → 0,12 %."""
    return as_percent(rate) if rate is not None else None

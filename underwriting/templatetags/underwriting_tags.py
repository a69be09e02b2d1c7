from datetime import date, timedelta

from django import template

register = template.Library()


@register.filter
def add_days(value: date | None, days: int) -> date | None:
    """Show an exclusive upper bound as the last day covered: {{ upper|add_days:-1 }}."""
    return value + timedelta(days=int(days)) if value else None

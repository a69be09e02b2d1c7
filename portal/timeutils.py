"""Business dates are whole days in Europe/Paris."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

PARIS = ZoneInfo("Europe/Paris")


def business_today() -> date:
    return timezone.now().astimezone(PARIS).date()


def business_date(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()

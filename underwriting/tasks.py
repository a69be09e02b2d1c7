"""Periodic and after-commit work for underwriting. Tasks take ids and re-enter the scope."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django_scopes import scopes_disabled

from portal.timeutils import business_today
from underwriting import services
from underwriting.models import Guarantee, SeasonalExpiry
from unlockplus.celery import RETRY_TRANSIENT


@shared_task(**RETRY_TRANSIENT)
def expire_seasonal_limits(*, on: str | None = None) -> int:
    """Record the seasonal periods that ended by `on` (default today, Europe/Paris) and tell
    their policyholders. Idempotent: an expiry is recorded once."""
    today = date.fromisoformat(on) if on else business_today()
    recorded = 0
    # Beat runs for every policyholder: the explicit, named bypass of the tenant scope.
    with scopes_disabled():
        ended = (
            Guarantee.objects.filter(period__endswith__lte=today)
            .exclude(pk__in=SeasonalExpiry.objects.values("guarantee_id"))
            .filter(decision__valid_until__isnull=False)
            .values_list("pk", flat=True)
        )
        for guarantee_id in list(ended):
            if services.guarantee_expiry_record(guarantee_id=guarantee_id, today=today):
                recorded += 1
    return recorded

"""Query filters of the monitoring API lists (`portal.api_filters`)."""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]  # no stubs published

from monitoring.models import AlertExposure, BuyerInsight
from portal.api_filters import StrictFilterSet


class AlertFilter(StrictFilterSet):
    buyer = django_filters.UUIDFilter(
        field_name="alert__buyer_id", help_text="Only the alerts on this buyer (its id)."
    )

    class Meta:
        model = AlertExposure
        fields: list[str] = []


class InsightFilter(StrictFilterSet):
    buyer = django_filters.UUIDFilter(
        field_name="buyer_id", help_text="Only the insights on this buyer (its id)."
    )

    class Meta:
        model = BuyerInsight
        fields: list[str] = []

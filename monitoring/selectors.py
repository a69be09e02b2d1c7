"""Monitoring reads, within the active scope: pages and the API call the same selectors."""

from __future__ import annotations

from django.db.models import QuerySet

from monitoring.models import GradeChange, ProceedingsNotice
from underwriting.models import Buyer


def grade_history(*, buyer: Buyer) -> QuerySet[GradeChange]:
    """The buyer's applied grade changes, oldest first."""
    return GradeChange.objects.filter(buyer=buyer, applied_at__isnull=False).order_by(
        "effective_on", "id"
    )


def proceedings_history(*, buyer: Buyer) -> QuerySet[ProceedingsNotice]:
    """The buyer's applied notices, latest judgment first, with what became of each."""
    return ProceedingsNotice.objects.filter(buyer=buyer, applied_at__isnull=False).order_by(
        "-judged_on", "-published_on", "-id"
    )

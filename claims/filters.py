"""Query filters of the claims API list (`portal.api_filters`)."""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]  # no stubs published

from claims.models import Claim, ClaimStatus
from portal.api_filters import StrictFilterSet


class ClaimFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=ClaimStatus.choices)
    buyer = django_filters.UUIDFilter()
    contract = django_filters.UUIDFilter()

    class Meta:
        model = Claim
        fields: list[str] = []

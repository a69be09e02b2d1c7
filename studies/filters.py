"""Query filters of the studies API list (`portal.api_filters`)."""

from __future__ import annotations

import django_filters  # type: ignore[import-untyped]  # no stubs published

from portal.api_filters import StrictFilterSet
from studies.models import Study, StudyStatus


class StudyFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=StudyStatus.choices)
    policyholder = django_filters.UUIDFilter(field_name="policyholder_id")

    class Meta:
        model = Study
        fields: list[str] = []

"""Query filters of the billing API (`portal.api_filters`)."""

from __future__ import annotations

from typing import Any

import django_filters  # type: ignore[import-untyped]  # no stubs published
from django import forms
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from billing.models import Invoice
from billing.premium import parse_month
from portal.api_filters import StrictFilterSet
from portal.errors import RuleViolation


def _validate_month(value: str) -> None:
    try:
        parse_month(value)
    except RuleViolation as error:
        raise forms.ValidationError(error.message, code="invalid") from None


@extend_schema_field({"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"})
class MonthFilter(django_filters.CharFilter):
    pass


class InvoiceFilter(StrictFilterSet):
    # Not stripped: `2026-10` followed by a line break is not a month.
    month = MonthFilter(
        method="filter_month", strip=False, validators=[_validate_month], help_text="`YYYY-MM`."
    )

    class Meta:
        model = Invoice
        fields: list[str] = []

    def filter_month(self, queryset: QuerySet[Any], name: str, value: str) -> Any:
        return queryset.filter(month=parse_month(value)) if value else queryset

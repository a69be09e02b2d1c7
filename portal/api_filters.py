"""Query filters of the API lists, declared as django-filter FilterSets (issue 12, finding 4):
drf-spectacular documents them in the schema, and a bad value is a 400 naming the parameter,
in the body of every API error (`portal.api_errors`)."""

from __future__ import annotations

from typing import Any

import django_filters  # type: ignore[import-untyped]  # no stubs published
from django import forms
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend  # type: ignore[import-untyped]
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.request import Request
from rest_framework.views import APIView


class ListFilterBackend(DjangoFilterBackend):
    """Filters narrow a list only (and the actions a view names in `filtered_actions`, such as
    an export of the list): a detail route ignores the query, it is found by its id in scope."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        if getattr(view, "action", None) not in getattr(view, "filtered_actions", ("list",)):
            return queryset
        return super().filter_queryset(request, queryset, view)


class StrictFilterSet(django_filters.FilterSet):
    """A parameter given empty is an error, as DRF's own fields say, not "no filter": the schema
    says what a value must be (a uuid, one of the statuses), and an empty one is none of them."""

    def is_valid(self) -> bool:
        valid: bool = super().is_valid()
        for name in self.filters:
            if name in self.data and self.data.get(name) == "":
                self.form.add_error(name, forms.ValidationError(BLANK, code="blank"))
                valid = False
        return valid


BLANK = "This field may not be blank."


class StrictBooleanField(forms.Field):
    """`true`/`false` (or DRF's other spellings: `1`, `yes`, `on`...); anything else is an error,
    not silently "no filter" as django-filter's own boolean does."""

    TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
    FALSE = frozenset({"false", "0", "no", "off", "n", "f"})

    def to_python(self, value: Any) -> bool | None:
        text = str(value or "").strip().lower()
        if not text:
            return None
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Must be `true` or `false`.", code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField

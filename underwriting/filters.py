"""Query filters of the underwriting API lists (`portal.api_filters`): each one documented in
the schema, a bad value a 400 naming the parameter. The list's queryset is the scoped selector's;
the filters only narrow it."""

from __future__ import annotations

from typing import Any

import django_filters  # type: ignore[import-untyped]  # no stubs published
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from portal.api_filters import StrictBooleanFilter, StrictFilterSet
from portal.models import User
from underwriting import selectors
from underwriting.models import Guarantee, GuaranteeRequest, RequestReason, RequestStatus

ASSIGNED_TO = r"^(me|none|[0-9]{1,18})$"


@extend_schema_field({"type": "string", "pattern": ASSIGNED_TO})
class AssignedToFilter(django_filters.CharFilter):
    pass


class GuaranteeRequestFilter(StrictFilterSet):
    """The arbiter queue's filters (`selectors.RequestFilters`), as the API takes them."""

    status = django_filters.ChoiceFilter(choices=RequestStatus.choices)
    buyer = django_filters.UUIDFilter()
    contract = django_filters.UUIDFilter()
    reason = django_filters.ChoiceFilter(choices=RequestReason.choices)
    assigned_to = AssignedToFilter(
        # \Z, not $: a trailing line break is not a user id.
        validators=[RegexValidator(r"\A(me|none|[0-9]{1,18})\Z", "`me`, `none` or a user id.")],
        max_length=20,
        strip=False,
        help_text="`me`, `none` or a user id.",
    )
    ordering = django_filters.ChoiceFilter(
        choices=[("due", "due")], help_text="`due`: the arbiter queue, oldest due first."
    )

    class Meta:
        model = GuaranteeRequest
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        data = self.form.cleaned_data
        assigned = data.get("assigned_to") or ""
        arbiter = None
        if assigned == "me":
            arbiter = self.request.user if self.request is not None else None
        elif assigned not in ("", "none"):
            arbiter = User(pk=int(assigned))
        return selectors.requests_filtered(
            selectors.RequestFilters(
                status=data.get("status") or "",
                buyer_id=data.get("buyer"),
                contract_id=data.get("contract"),
                reason=data.get("reason") or "",
                arbiter=arbiter,
                unassigned=assigned == "none",
                oldest_due_first=data.get("ordering") == "due",
            ),
            within=queryset,
        )


class GuaranteeFilter(StrictFilterSet):
    buyer = django_filters.UUIDFilter()
    contract = django_filters.UUIDFilter()
    in_force = StrictBooleanFilter(
        method="filter_in_force", help_text="Only the periods in force today."
    )

    class Meta:
        model = Guarantee
        fields: list[str] = []

    def filter_in_force(self, queryset: QuerySet[Any], name: str, value: bool | None) -> Any:
        if not value:
            return queryset
        return queryset & selectors.guarantees_in_force()

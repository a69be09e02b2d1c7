"""The studies list (`portal.listing`): its columns, search and filters."""

from __future__ import annotations

from typing import Any

import django_tables2 as tables  # type: ignore[import-untyped]
from django.db.models import Case, F, Q, QuerySet, When
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.listing import (
    DayColumn,
    ListFilterSet,
    ListTable,
    MoneyColumn,
    NumberColumn,
    StatusColumn,
    choice_filter,
    policyholder_filter,
)
from studies.models import StudyStatus


def studies_listed(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Each study with `proposal_total`: the total of its proposal once the insurer made one
    (finalised, or waiting for a countersignature), so that it sorts and adds up as shown."""
    return queryset.annotate(
        proposal_total=Case(
            When(
                Q(finalised_at__isnull=False) | Q(status=StudyStatus.AWAITING_COUNTERSIGNATURE),
                then=F("total_top_up"),
            ),
            default=None,
        )
    )


class StudyFilterSet(ListFilterSet):
    search_fields = ("policyholder__name", "contract__number", "file_name")

    status = choice_filter(_("Statut"), StudyStatus.choices)
    policyholder = policyholder_filter()


class PolicyholderColumn(tables.Column):
    def render(self, value: str, record: Any) -> str:
        if record.is_prospect:
            return format_html('{} <span class="badge">{}</span>', value, _("prospect"))
        return value


class LinesColumn(NumberColumn):
    """Accepted lines out of the list's lines, once a list is uploaded (the export: accepted)."""

    def render(self, record: Any) -> str:
        return f"{record.lines_accepted} / {record.lines_total}" if record.uploaded_at else "—"

    def value(self, value: Any = None, **kwargs: Any) -> Any:
        record = kwargs["record"]
        return record.lines_accepted if record.uploaded_at else None


class StudyTable(ListTable):
    policyholder = PolicyholderColumn(
        verbose_name=_("Assuré"),
        accessor="policyholder__name",
        linkify=lambda record: reverse("study_detail", args=[record.pk]),
        attrs={"a": {"data-testid": "study-open"}},
    )
    contract = tables.Column(verbose_name=_("Contrat"), accessor="contract__number")
    status = StatusColumn(verbose_name=_("Statut"), css_prefix="study")
    created_at = DayColumn(verbose_name=_("Créée le"))
    submitted_at = DayColumn(verbose_name=_("Soumise le"), default="—")
    finalised_at = DayColumn(verbose_name=_("Rapport du"), default="—")
    lines_accepted = LinesColumn(verbose_name=_("Lignes acceptées"), empty_values=())
    proposal_total = MoneyColumn(verbose_name=_("Top-up proposé"), default="—")
    expires_on = DayColumn(verbose_name=_("Valable jusqu'au"), default="—")


STUDY_TOTALS = {"proposal_total": "proposal_total"}

"""The requests and guarantees lists (`portal.listing`): their columns, search and filters."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import django_filters  # type: ignore[import-untyped]  # no stubs published
import django_tables2 as tables  # type: ignore[import-untyped]
from django import forms
from django.db.models import (
    BooleanField,
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    When,
)
from django.db.models import Value as V
from django.db.models.functions import NullIf, Round
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.listing import (
    DayColumn,
    ListFilterSet,
    ListTable,
    MoneyColumn,
    NumberColumn,
    choice_filter,
    day_filter,
    percent_text,
    policyholder_filter,
)
from underwriting.models import OPEN_STATUSES, RequestReason, RequestStatus

# --------------------------------------------------------------------------------- requests


# The "Statut" column sorts in the workflow's order (the order the statuses are declared in:
# waiting, countersignature, granted, partly granted, refused, withdrawn), not by the codes.
STATUS_RANK = Case(
    *(When(status=status, then=V(rank)) for rank, status in enumerate(RequestStatus)),
    output_field=IntegerField(),
)


def requests_listed(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The requests with `overdue`: open past their handling due date, as the arbiter queue
    marks them late; and `status_rank`, the status's place in the workflow (its sort)."""
    return queryset.annotate(
        overdue=Case(
            When(Q(status__in=OPEN_STATUSES, due_at__lt=timezone.now()), then=V(True)),
            default=V(False),
            output_field=BooleanField(),
        ),
        status_rank=STATUS_RANK,
    )


class RequestFilterSet(ListFilterSet):
    search_fields = ("buyer__name", "buyer__siren", "policyholder__name", "comment")

    status = choice_filter(_("Statut"), RequestStatus.choices)
    reason = choice_filter(_("Motif"), RequestReason.choices)
    policyholder = policyholder_filter()
    overdue = django_filters.BooleanFilter(
        label=_("En retard seulement"), method="only_overdue", widget=forms.CheckboxInput
    )
    submitted_from = day_filter(_("Déposée depuis le"), on="submitted_at", lookup="gte")
    submitted_to = day_filter(_("Déposée jusqu'au"), on="submitted_at", lookup="lte")

    def only_overdue(self, queryset: QuerySet[Any], name: str, value: bool | None) -> QuerySet[Any]:
        return queryset.filter(overdue=True) if value else queryset


class RequestStatusColumn(tables.Column):
    """The status badge, with "En retard" on an overdue request and "Suspendue" on a held one."""

    def render(self, record: Any) -> str:
        html = format_html(
            '<span class="badge status-{}">{}</span>', record.status, record.get_status_display()
        )
        if getattr(record, "overdue", False):
            html += format_html(
                ' <span class="badge overdue" data-testid="request-overdue">{}</span>',
                _("En retard"),
            )
        if record.held_since and record.is_open:
            html += format_html(
                ' <span class="badge status-held" data-testid="requests-held">{}</span>',
                _("Suspendue : procédure collective sur l'acheteur"),
            )
        return html

    def value(self, record: Any, **kwargs: Any) -> str:
        label = str(record.get_status_display())
        return f"{label} ({_('En retard')})" if getattr(record, "overdue", False) else label


class RequestTable(ListTable):
    submitted_at = DayColumn(
        verbose_name=_("Déposée le"),
        linkify=lambda record: reverse("request_detail", args=[record.pk]),
    )
    policyholder = tables.Column(verbose_name=_("Assuré"), accessor="policyholder__name")
    buyer = tables.Column(verbose_name=_("Acheteur"), accessor="buyer__name")
    exposure = MoneyColumn(verbose_name=_("Encours"))
    primary_amount = MoneyColumn(verbose_name=_("Primaire"))
    requested_top_up = MoneyColumn(verbose_name=_("Top-up demandé"))
    reason = tables.Column(verbose_name=_("Motif"))
    status = RequestStatusColumn(
        verbose_name=_("Statut"), empty_values=(), order_by=("status_rank",)
    )
    granted = MoneyColumn(verbose_name=_("Accordé"), accessor="decision__amount", default="")

    class Meta(ListTable.Meta):
        row_attrs: dict[str, Any] = {
            "class": lambda record: "linked late" if record.overdue else "linked"
        }


REQUEST_TOTALS = {
    "exposure": "exposure",
    "primary_amount": "primary_amount",
    "requested_top_up": "requested_top_up",
    "granted": "decision__amount",
}


# ------------------------------------------------------------------------------- guarantees

MONEY_FIELD: DecimalField[Any, Any] = DecimalField(max_digits=16, decimal_places=2)
ONE_DAY = timedelta(days=1)


def guarantees_listed(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Guarantees with their total cover, its ratio to the declared exposure (percent, one
    decimal) and the period's bounds, computed by the database so that each one sorts."""
    total = F("primary_amount") + F("amount")
    return queryset.annotate(
        total_cover=ExpressionWrapper(total, output_field=MONEY_FIELD),
        cover_ratio=Round(
            ExpressionWrapper(total * 100 / NullIf(F("exposure"), V(0)), output_field=MONEY_FIELD),
            1,
        ),
        since=F("period_start"),
        ends=F("period_end"),
    )


class GuaranteeFilterSet(ListFilterSet):
    search_fields = ("buyer__name", "buyer__siren", "policyholder__name")

    policyholder = policyholder_filter()
    amount_min = django_filters.NumberFilter(
        label=_("Top-up d'au moins (€)"), field_name="amount", lookup_expr="gte"
    )
    ending = django_filters.ChoiceFilter(
        label=_("Fin"),
        method="by_end",
        empty_label=_("Toutes"),
        choices=[
            ("dated", _("Avec une date de fin (saisonnières)")),
            ("open", _("Sans date de fin")),
        ],
    )

    def by_end(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(period_end__isnull=value == "open") if value else queryset


class RatioColumn(NumberColumn):
    def render(self, value: Decimal) -> str:
        return percent_text(value)


class EndColumn(DayColumn):
    """The last day in force: the period's exclusive upper bound minus one day."""

    def render(self, value: date) -> str:
        return super().render(value - ONE_DAY)

    def value(self, value: date | None = None, **kwargs: Any) -> date | None:
        return value - ONE_DAY if value is not None else None


class GuaranteeTable(ListTable):
    buyer = tables.Column(
        verbose_name=_("Acheteur"),
        accessor="buyer__name",
        linkify=lambda record: reverse("buyer_page", args=[record.contract_id, record.buyer_id]),
    )
    policyholder = tables.Column(verbose_name=_("Assuré"), accessor="policyholder__name")
    primary_amount = MoneyColumn(verbose_name=_("Primaire"))
    amount = MoneyColumn(verbose_name=_("Top-up"))
    total_cover = MoneyColumn(
        verbose_name=_("Couverture totale"),
        attrs={"th": {"class": "num"}, "td": {"class": "num", "data-testid": "total-cover"}},
    )
    exposure = MoneyColumn(verbose_name=_("Encours"), default="—")
    cover_ratio = RatioColumn(
        verbose_name=_("Couvert"),
        default="—",
        attrs={"th": {"class": "num"}, "td": {"class": "num", "data-testid": "cover-ratio"}},
    )
    since = DayColumn(verbose_name=_("Depuis"))
    ends = EndColumn(verbose_name=_("Jusqu'au"), default="—")


GUARANTEE_TOTALS = {
    "primary_amount": "primary_amount",
    "amount": "amount",
    "total_cover": "total_cover",
    "exposure": "exposure",
}

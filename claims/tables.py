"""The claims list (`portal.listing`): its columns, search and filters."""

from __future__ import annotations

from typing import Any

import django_filters  # type: ignore[import-untyped]  # no stubs published
import django_tables2 as tables  # type: ignore[import-untyped]
from django import forms
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from claims import selectors
from claims.models import ClaimStatus
from portal.listing import (
    DayColumn,
    ListFilterSet,
    ListTable,
    MoneyColumn,
    NumberColumn,
    StatusColumn,
    choice_filter,
    day_filter,
    policyholder_filter,
)


class ClaimFilterSet(ListFilterSet):
    q = django_filters.CharFilter(
        label=_("Recherche"),
        method="search_text",
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": _("n° de sinistre, acheteur, SIREN, facture")}
        ),
    )
    status = choice_filter(_("Statut"), ClaimStatus.choices)
    policyholder = policyholder_filter()
    declared_from = day_filter(_("Déclaré depuis le"), on="declared_at", lookup="gte")
    declared_to = day_filter(_("Déclaré jusqu'au"), on="declared_at", lookup="lte")

    def search_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        # The claims' own search: number, buyer name, SIREN or VAT number, invoice number.
        return selectors.claims_matching(queryset, query=value)


class ClaimTable(ListTable):
    row_testid = "claim-row"

    number = tables.Column(
        verbose_name=_("Sinistre"),
        linkify=lambda record: reverse("claim_detail", args=[record.pk]),
        attrs={"a": {"data-testid": "claim-open"}},
    )
    policyholder = tables.Column(verbose_name=_("Assuré"), accessor="policyholder__name")
    buyer = tables.Column(verbose_name=_("Acheteur"), accessor="buyer__name")
    status = StatusColumn(verbose_name=_("Statut"), css_prefix="claim")
    declared_at = DayColumn(verbose_name=_("Déclaré le"))
    invoice_count = NumberColumn(verbose_name=_("Factures"))
    invoice_total = MoneyColumn(verbose_name=_("Montant déclaré"))
    indemnity = MoneyColumn(verbose_name=_("Indemnité top-up"), default="—")

    def render_buyer(self, value: str, record: Any) -> str:
        return format_html('{} <span class="muted">{}</span>', value, record.buyer.identifier)

    def value_buyer(self, value: str) -> str:
        return value


CLAIM_TOTALS = {"invoice_total": "invoice_total", "indemnity": "indemnity"}

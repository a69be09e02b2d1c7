"""The invoice list (`portal.listing`): columns, search and filters, with each invoice's paid
amount and balance (stored on its row) and its payment status and overdue flag
(`selectors.with_balance`)."""

from __future__ import annotations

from typing import Any

import django_filters  # type: ignore[import-untyped]  # no stubs published
import django_tables2 as tables  # type: ignore[import-untyped]
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from billing import selectors
from billing.filters import _validate_month
from billing.forms import MonthInput
from billing.models import InvoiceKind, PaymentStatus
from billing.premium import parse_month
from portal.listing import DayColumn, ListFilterSet, ListPage, ListTable, MoneyColumn
from portal.models import Organisation
from portal.money import eur

OVERDUE = "overdue"
OPEN = "open"
STATUS_CHOICES = [
    *PaymentStatus.choices,
    (OPEN, _("À encaisser (impayée ou partiellement payée)")),
    (OVERDUE, _("En retard")),
]


def _policyholders(request: Any) -> QuerySet[Organisation]:
    from portal.selectors import visible_policyholders

    return visible_policyholders().order_by("name")


class InvoiceFilterSet(ListFilterSet):
    search_fields = ("number", "policyholder_name", "contract_number", "policyholder_siren")

    status = django_filters.ChoiceFilter(
        label=_("Paiement"), choices=STATUS_CHOICES, method="by_status", empty_label=_("Tous")
    )
    kind = django_filters.ChoiceFilter(
        label=_("Type"), choices=InvoiceKind.choices, empty_label=_("Tous")
    )
    month = django_filters.CharFilter(
        label=_("Mois facturé"),
        method="by_month",
        # Not stripped, as in the API: `2026-10` followed by a line break is not a month.
        strip=False,
        validators=[_validate_month],
        widget=MonthInput,
    )
    policyholder = django_filters.ModelChoiceFilter(
        label=_("Assuré"), queryset=_policyholders, empty_label=_("Tous")
    )

    def by_status(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return selectors.filter_by_status(queryset, value) if value else queryset

    def by_month(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(month=parse_month(value)) if value else queryset


def status_badge(record: Any) -> SafeString:
    """The payment status as a badge, and "En retard" beside it on an overdue invoice."""
    if record.kind == InvoiceKind.CREDIT_NOTE:
        return format_html("{}", "—")
    label = PaymentStatus(record.payment_status).label
    html = format_html(
        '<span class="badge payment-{}" data-testid="payment-status">{}</span>',
        record.payment_status,
        label,
    )
    if record.overdue:
        html += format_html(
            ' <span class="badge overdue" data-testid="invoice-overdue">{}</span>', _("En retard")
        )
    return html


class PaymentStatusColumn(tables.Column):
    def render(self, record: Any) -> SafeString:
        return status_badge(record)

    def value(self, record: Any, **kwargs: Any) -> str:
        if record.kind == InvoiceKind.CREDIT_NOTE:
            return ""
        label = str(PaymentStatus(record.payment_status).label)
        return f"{label} ({_('En retard')})" if record.overdue else label


class MonthColumn(tables.Column):
    def render(self, value: Any) -> str:
        return f"{value:%m/%Y}"

    def value(self, value: Any = None, **kwargs: Any) -> Any:
        return value


class PdfColumn(tables.Column):
    def render(self, record: Any) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>', reverse("invoice_pdf", args=[record.pk]), _("Télécharger")
        )


class InvoiceTable(ListTable):
    number = tables.Column(
        verbose_name=_("Numéro"),
        linkify=lambda record: reverse("invoice_detail", args=[record.pk]),
        attrs={"td": {"data-testid": "invoice-number"}},
    )
    kind = tables.Column(verbose_name=_("Type"))
    month = MonthColumn(verbose_name=_("Mois"))
    policyholder_name = tables.Column(verbose_name=_("Assuré"))
    contract_number = tables.Column(verbose_name=_("Contrat"))
    issued_on = DayColumn(verbose_name=_("Émise le"))
    due_on = DayColumn(verbose_name=_("Échéance"))
    total = MoneyColumn(verbose_name=_("Total"))
    # Named apart from the annotations they show: the totals' aggregate aliases are the column
    # names, and an alias equal to an annotation's name breaks Django's aggregate.
    amount_paid = MoneyColumn(verbose_name=_("Payé"), accessor="paid")
    amount_due = MoneyColumn(
        verbose_name=_("Reste dû"),
        accessor="balance",
        attrs={"th": {"class": "num"}, "td": {"class": "num", "data-testid": "balance"}},
    )
    payment_status = PaymentStatusColumn(verbose_name=_("Paiement"), empty_values=())
    # Not `pdf`: that is the invoice's stored PDF, a query per row.
    download = PdfColumn(
        verbose_name="PDF",
        accessor="pk",
        empty_values=(),
        orderable=False,
        exclude_from_export=True,
    )

    class Meta(ListTable.Meta):
        row_attrs = {"class": lambda record: "linked late" if record.overdue else "linked"}  # type: ignore[dict-item]  # why: django-tables2 takes a callable per attribute
        order_by = ("-issued_on", "-number")


INVOICE_TOTALS = {"total": "total", "amount_paid": "paid", "amount_due": "balance"}


class InvoiceListPage(ListPage):
    """The totals of total / paid / balance over the filtered invoices, not only the page, in
    one aggregate (`selectors.balance_totals`)."""

    def totals(self) -> dict[str, Any]:
        figures = selectors.balance_totals(self.filtered)
        return {
            "count": figures["count"],
            "by_column": {
                "total": eur(figures["total"]),
                "amount_paid": eur(figures["paid"]),
                "amount_due": eur(figures["balance"]),
            },
        }

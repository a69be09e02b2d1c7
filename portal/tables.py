"""The notifications list (`portal.listing`): its columns, search and filter."""

from __future__ import annotations

from typing import Any

import django_filters  # type: ignore[import-untyped]  # no stubs published
import django_tables2 as tables  # type: ignore[import-untyped]
from django import forms
from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from portal.listing import ListFilterSet, ListTable


class NotificationFilterSet(ListFilterSet):
    search_fields = ("subject", "body")

    unread = django_filters.BooleanFilter(
        label=_("Non lues seulement"), method="only_unread", widget=forms.CheckboxInput
    )

    def only_unread(self, queryset: QuerySet[Any], name: str, value: bool | None) -> QuerySet[Any]:
        return queryset.filter(read_at__isnull=True) if value else queryset


class NotificationTable(ListTable):
    subject = tables.Column(verbose_name=_("Objet"))
    body = tables.Column(verbose_name=_("Message"), orderable=False)
    created_at = tables.Column(verbose_name=_("Reçue le"))
    read_at = tables.Column(verbose_name=_("État"), empty_values=())

    class Meta(ListTable.Meta):
        row_attrs: dict[str, Any] = {
            "class": lambda record: "linked" if record.read_at else "linked unread"
        }

    def render_subject(self, value: str, record: Any) -> str:
        # A notification's link is the page it is about; some have none.
        if record.link:
            return format_html('<a href="{}">{}</a>', record.link, value)
        return value

    def value_subject(self, value: str) -> str:
        return value

    def render_created_at(self, value: Any) -> str:
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")

    def value_created_at(self, value: Any) -> Any:
        return timezone.localtime(value).replace(tzinfo=None)

    def render_read_at(self, value: Any) -> str:
        if value is None:
            return format_html('<span class="badge">{}</span>', _("Nouvelle"))
        return str(_("Lue"))

    def value_read_at(self, value: Any) -> str:
        return str(_("Nouvelle") if value is None else _("Lue"))

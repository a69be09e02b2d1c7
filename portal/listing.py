"""Every list page is a tool: search, filters kept in the URL, sort by each column, pagination,
totals of the amount columns, an empty state, and CSV/XLSX exports of exactly what is shown.

A list view builds its queryset from its app's scoped selector and hands it to `list_page`
with a `ListFilterSet` (the `q` search box and the list's filters) and a `ListTable` (its
columns). The filters and the sort are query parameters of the same route, so a link, a page
change or an export (`?export=csv|xlsx`) carries them. Totals are one aggregate over the
filtered set (not the page); an export walks the filtered, sorted set in chunks.

Templates: `_list_table.html` (filter form, export links, the table, the pager), included by
the list's own page with `caption` (the table's name) and `empty` (what to do when there is
nothing yet), optionally `testid` and `empty_testid`.

A list in three parts (see `underwriting/tables.py` and `underwriting/views.py`):

    class InvoiceFilterSet(ListFilterSet):          # `q` searches these fields
        search_fields = ("number", "policyholder__name")
        status = django_filters.ChoiceFilter(choices=..., empty_label=_("Tous"))

    class InvoiceTable(ListTable):                   # the first column links the row
        number = tables.Column(linkify=lambda record: reverse("invoice_detail", args=[record.pk]))
        total = MoneyColumn(verbose_name=_("Total TTC"))
        issued_on = DayColumn(verbose_name=_("Émise le"))

    page = ListPage(request, queryset=selectors.invoices_visible(), table_class=InvoiceTable,
                    filterset_class=InvoiceFilterSet, totals={"total": "total"})
    return list_page(request, template="billing/invoice_list.html", page=page,
                     export_name="factures")
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import django_filters  # type: ignore[import-untyped]  # no stubs published
import django_tables2 as tables  # type: ignore[import-untyped]
from django import forms
from django.contrib import messages
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tables2.rows import BoundRow  # type: ignore[import-untyped]
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell

from portal.money import eur, grouped
from portal.timeutils import business_today
from studies.exports import french_decimal, spreadsheet_safe, xlsx_cell

if TYPE_CHECKING:  # a development dependency
    from django_stubs_ext import StrOrPromise

PER_PAGE = 50
_ALL = gettext_lazy("Tous")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
EXPORT_CHUNK = 2000
EXPORT_FORMATS = ("csv", "xlsx")
# An export is built in the request: past this many rows, the user narrows the filters first.
EXPORT_MAX_ROWS = 100_000
XLSX_DATE_FORMAT = "DD/MM/YYYY"


def percent_text(value: Decimal, *, places: int = 1) -> str:
    """A percentage already multiplied by 100: `80,0 %` in French, `80.0%` in English."""
    digits = grouped(value, places=places)
    return f"{digits}%" if (translation.get_language() or "").startswith("en") else f"{digits} %"


# --------------------------------------------------------------------------------- columns


class MoneyColumn(tables.Column):
    """An amount: `1 234,56 €` on the page, a number in the exports, right-aligned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("attrs", {"th": {"class": "num"}, "td": {"class": "num"}})
        super().__init__(*args, **kwargs)

    def render(self, value: Decimal) -> str:
        return eur(value)

    def value(self, value: Decimal | None = None, **kwargs: Any) -> Decimal | None:
        return value


class NumberColumn(tables.Column):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("attrs", {"th": {"class": "num"}, "td": {"class": "num"}})
        super().__init__(*args, **kwargs)

    def value(self, value: Any = None, **kwargs: Any) -> Any:
        return value


class DayColumn(tables.Column):
    """A date (or the Paris day of a time): `28/11/2026`, a date cell in the exports."""

    def render(self, value: date | datetime) -> str:
        return formats.date_format(_day(value), "SHORT_DATE_FORMAT")

    def value(self, value: date | datetime | None = None, **kwargs: Any) -> date | None:
        return _day(value) if value is not None else None


def _day(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date()
    return value


class StatusColumn(tables.Column):
    """A status as its badge (`badge <prefix>-<status>`, styled per status); text in exports."""

    def __init__(self, *args: Any, css_prefix: str, **kwargs: Any) -> None:
        self.css_prefix = css_prefix
        super().__init__(*args, **kwargs)

    def render(self, value: str, record: Any) -> str:
        return format_html(
            '<span class="badge {}-{}">{}</span>', self.css_prefix, record.status, value
        )

    def value(self, value: Any = None, **kwargs: Any) -> Any:
        return value


class ListTable(tables.Table):
    """The base of every list's table. The first column is a link to the row's page
    (`linkify`), which the stylesheet stretches over the whole row."""

    row_testid: ClassVar[str] = "list-row"

    class Meta:
        attrs = {"class": "grid list"}
        row_attrs = {"class": "linked"}
        order_by_field = "sort"
        page_field = "page"
        per_page = PER_PAGE


# --------------------------------------------------------------------------------- filters


class ListFilterSet(django_filters.FilterSet):
    """The `q` search box (case-insensitive, over `search_fields`) and the list's filters."""

    search_fields: ClassVar[Sequence[str]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = getattr(self.request, "user", None)
        organisation = getattr(user, "organisation", None)
        if organisation is not None and organisation.is_policyholder:
            # A policyholder's users see their own rows only: nothing to choose.
            self.filters.pop("policyholder", None)

    q = django_filters.CharFilter(
        label=gettext_lazy("Recherche"), method="search_text", max_length=100
    )

    def search_text(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        value = value.strip()
        if not value:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)


def _visible_policyholders(request: HttpRequest | None) -> QuerySet[Any]:
    from portal.selectors import visible_policyholders

    return visible_policyholders().order_by("name")


def day_filter(label: StrOrPromise, *, on: str, lookup: str) -> django_filters.DateFilter:
    """A day bound on the Paris day of `on` (a date or a time): `lookup` is gte or lte."""
    field = on if on.endswith("_on") else f"{on}__date"
    return django_filters.DateFilter(
        label=label, field_name=field, lookup_expr=lookup, widget=DATE_INPUT
    )


def choice_filter(
    label: StrOrPromise, choices: Sequence[tuple[str, StrOrPromise]]
) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(label=label, choices=choices, empty_label=_ALL)


def policyholder_filter() -> django_filters.ModelChoiceFilter:
    """The policyholders the caller's scope shows (a broker: its mandated clients)."""
    return django_filters.ModelChoiceFilter(
        label=gettext_lazy("Assuré"),
        queryset=_visible_policyholders,
        empty_label=gettext_lazy("Tous"),
    )


# ------------------------------------------------------------------------------------ page


class CountedPaginator(Paginator):
    """A paginator told the number of rows: on a large list, each full scan counts."""

    def __init__(self, *args: Any, known_count: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if known_count is not None:
            self.__dict__["count"] = known_count  # `count` is a cached property


class ListPage:
    """One list as a request sees it: filtered, sorted, paginated, with its totals."""

    def __init__(
        self,
        request: HttpRequest,
        *,
        queryset: QuerySet[Any],
        table_class: type[ListTable],
        filterset_class: type[ListFilterSet],
        totals: Mapping[str, Any] | None = None,
        exclude: Sequence[str] = (),
        keep: Sequence[str] = (),
    ) -> None:
        self.request = request
        self.filterset = filterset_class(request.GET or None, queryset=queryset, request=request)
        self.filtered = self.filterset.qs
        self.table = table_class(self.filtered, exclude=exclude)
        # The request's sort, without django-tables2's own pagination: it would COUNT the rows
        # before the totals do (`paginate` below takes their count), a full scan on a large list.
        tables.RequestConfig(request, paginate=False).configure(self.table)
        self._stable_order()
        self.totals_spec = dict(totals or {})
        # Parameters outside the filter form that the form must carry (e.g. `review=1`).
        self.keep = {name: request.GET[name] for name in keep if request.GET.get(name)}

    def _stable_order(self) -> None:
        """A sort on a column with equal values still pages every row once: the primary key
        breaks ties."""
        queryset: QuerySet[Any] = self.table.data.data
        ordering = list(queryset.query.order_by or queryset.model._meta.ordering or [])
        if not any(str(term).lstrip("-") in ("pk", "id") for term in ordering):
            self.table.data.data = queryset.order_by(*ordering, "pk")

    @property
    def is_filtered(self) -> bool:
        form = self.filterset.form
        return any(form.data.get(name) for name in form.fields) if form.is_bound else False

    def paginate(self, *, count: int | None = None) -> None:
        """The requested page (the first for a bad number, the last past the end); `count`,
        when the totals counted the rows already, spares the paginator its own COUNT."""
        options: dict[str, Any] = {"paginator_class": CountedPaginator, "known_count": count}
        page = self.request.GET.get(self.table.page_field) or 1
        try:
            self.table.paginate(page=page, per_page=PER_PAGE, **options)
        except PageNotAnInteger:
            self.table.paginate(page=1, per_page=PER_PAGE, **options)
        except EmptyPage:
            last = self.table.paginator.num_pages
            self.table.paginate(page=last, per_page=PER_PAGE, **options)

    def totals(self) -> dict[str, Any]:
        """The count and each amount column's sum over the filtered set, in one query."""
        # Aliased apart from the columns: an annotation cannot be summed under its own name.
        sums = {f"sum_{name}": Sum(expression) for name, expression in self.totals_spec.items()}
        answer = self.filtered.order_by().aggregate(count_all=Count("pk"), **sums)
        return {
            "count": answer["count_all"],
            "by_column": {
                name: eur(answer[f"sum_{name}"] or Decimal("0.00")) for name in self.totals_spec
            },
        }

    def context(self) -> dict[str, Any]:
        totals = self.totals() if self.totals_spec else None
        self.paginate(count=totals["count"] if totals else None)
        return {
            "table": self.table,
            "filter": self.filterset,
            "listing": self,
            "list_totals": totals,
            "footer_cells": _footer_cells(self.table, totals),
            "is_filtered": self.is_filtered,
            "keep": self.keep,
        }

    # ----------------------------------------------------------------------------- exports

    def headers(self) -> list[str]:
        return [str(column.header) for column in self._export_columns()]

    def _export_columns(self) -> list[Any]:
        return [
            column for column in self.table.columns if column.column.exclude_from_export is False
        ]

    def export_rows(self) -> Iterator[list[Any]]:
        """Every filtered row in the table's order, as cell values (not HTML), in chunks."""
        names = [column.name for column in self._export_columns()]
        for record in self.table.data.data.iterator(chunk_size=EXPORT_CHUNK):
            row = BoundRow(record, table=self.table)
            yield [row.get_cell_value(name) for name in names]


def _footer_cells(table: ListTable, totals: dict[str, Any] | None) -> list[str] | None:
    if totals is None:
        return None
    cells = []
    for index, column in enumerate(table.columns):
        if column.name in totals["by_column"]:
            cells.append(totals["by_column"][column.name])
        elif index == 0:
            cells.append(
                translation.ngettext("%(count)s ligne", "%(count)s lignes", totals["count"])
                % {"count": formats.number_format(totals["count"], force_grouping=True)}
            )
        else:
            cells.append("")
    return cells


def list_page(
    request: HttpRequest,
    *,
    template: str,
    page: ListPage,
    export_name: str,
    context: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """The list page, or its export when `?export=csv|xlsx`."""
    exported = export_response(page, name=export_name)
    if exported is not None:
        return exported
    return render(request, template, {**page.context(), **(context or {})})


def export_response(page: ListPage, *, name: str) -> HttpResponse | None:
    """The export `?export=csv|xlsx` asks for, named `<name>-<day>.<format>`; else None."""
    wanted = page.request.GET.get("export")
    if wanted not in EXPORT_FORMATS:
        return None
    if page.filtered.count() > EXPORT_MAX_ROWS:
        messages.warning(
            page.request,
            _(
                "L'export est limité à %(limit)s lignes : affinez la recherche ou les filtres, "
                "puis exportez de nouveau."
            )
            % {"limit": grouped(EXPORT_MAX_ROWS, places=0)},
        )
        query = page.request.GET.copy()
        query.pop("export", None)
        return redirect(f"{page.request.path}?{query.urlencode()}")
    filename = f"{name}-{business_today():%Y-%m-%d}.{wanted}"
    if wanted == "csv":
        return _attachment(
            export_csv(page), filename=filename, content_type="text/csv; charset=utf-8"
        )
    return _attachment(
        export_xlsx(page, title=name),
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _attachment(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return french_decimal(value)
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return spreadsheet_safe(str(value))


def export_csv(page: ListPage) -> bytes:
    """`;` separated, French decimals without grouping, UTF-8 with a BOM (Excel reads the
    accents); a cell a spreadsheet would run as a formula gets a leading `'`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([spreadsheet_safe(header) for header in page.headers()])
    for row in page.export_rows():
        writer.writerow([_csv_text(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def export_xlsx(page: ListPage, *, title: str) -> bytes:
    """Amounts as numbers, dates as dates, text as string cells (never a formula)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([xlsx_cell(sheet, header) for header in page.headers()])
    for row in page.export_rows():
        cells: list[Cell | None] = []
        for value in row:
            if value is None or value == "":
                cells.append(None)
            elif isinstance(value, date):
                cell = WriteOnlyCell(sheet, value=datetime.combine(value, time()))
                cell.number_format = XLSX_DATE_FORMAT
                cells.append(cell)
            elif isinstance(value, Decimal | int) and not isinstance(value, bool):
                cells.append(xlsx_cell(sheet, value))
            else:
                cells.append(xlsx_cell(sheet, str(value)))
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

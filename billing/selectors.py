"""Reads for billing. Tenant rows come from the scoped managers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Case, Count, DecimalField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from billing.models import BillingRun, Invoice, InvoiceKind, Payment, PaymentStatus
from billing.premium import month_after, month_before, month_first, parse_month
from portal.models import Role, User
from portal.timeutils import business_today
from underwriting.models import Contract, ContractStatus


def contracts_to_bill(*, month: date) -> QuerySet[Contract]:
    """Contracts in force on at least one day of `month` (a terminated contract is billed for
    the months it covered)."""
    return (
        Contract.objects.exclude(status=ContractStatus.DRAFT)
        .filter(starts_on__lt=month_after(month))
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=month))
        .select_related("policyholder")
        .order_by("number")
    )


def invoices_visible() -> QuerySet[Invoice]:
    """Invoices and credit notes in the active scope, newest number first."""
    return Invoice.objects.select_related("credits").order_by("-year", "-sequence")


def invoices_filtered(*, month: str = "") -> tuple[QuerySet[Invoice], date | None]:
    """The visible invoices of `month` (`YYYY-MM`; empty: every month), and that month.
    A month that does not parse is a `RuleViolation` on `month`, never a server error."""
    invoices = invoices_visible()
    if not month:
        return invoices, None
    first = parse_month(month)
    return invoices.filter(month=first), first


def invoice_totals_by_month(queryset: QuerySet[Invoice]) -> list[dict[str, object]]:
    return list(
        queryset.order_by()
        .values("month")
        .annotate(
            documents=Count("id"),
            invoices=Count("id", filter=Q(kind=InvoiceKind.INVOICE)),
            premium=Sum("premium_total"),
            adjustment=Sum("minimum_adjustment"),
            tax=Sum("tax_amount"),
            total=Sum("total"),
        )
        .order_by("-month")
    )


def recent_totals_by_month(queryset: QuerySet[Invoice], *, months: int) -> list[dict[str, object]]:
    """`invoice_totals_by_month` of the `months` latest months that have documents, newest
    first: through the month index, not a scan of every invoice ever issued."""
    latest = queryset.order_by("-month").values_list("month", flat=True).first()
    if latest is None:
        return []
    return invoice_totals_by_month(queryset.filter(month__gte=_window_start(latest, months)))


def _window_start(last: date, months: int) -> date:
    """The first month of the `months` months ending with `last`."""
    first = last
    for _step in range(months - 1):
        first = month_before(first)
    return first


def finance_recipients_by_policyholder(
    *, policyholder_ids: Iterable[UUID], roles: Iterable[str] = (Role.FINANCE,)
) -> dict[UUID, list[User]]:
    recipients: dict[UUID, list[User]] = defaultdict(list)
    for user in User.objects.filter(
        organisation_id__in=list(policyholder_ids), role__in=list(roles), is_active=True
    ).order_by("pk"):
        if user.organisation_id is not None:  # always set: the filter above matched it
            recipients[user.organisation_id].append(user)
    return recipients


def billing_runs(limit: int = 20) -> QuerySet[BillingRun]:
    return BillingRun.objects.select_related("started_by")[:limit]


# --- payments and balances ------------------------------------------------------------------
_ZERO = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))
# An invoice's `paid`, `credited`, `balance` and `outstanding` are columns of its row, kept by
# PostgreSQL from its payments and credit notes (billing/settlement_sql.py).


def with_balance(queryset: QuerySet[Invoice]) -> QuerySet[Any]:
    """Annotate each document, in SQL, with its `payment_status` (`PaymentStatus`; empty on a
    credit note) and `overdue` (a balance left after the due date, business today)."""
    return queryset.annotate(
        payment_status=Case(
            When(kind=InvoiceKind.CREDIT_NOTE, then=Value("")),
            When(outstanding=False, then=Value(PaymentStatus.PAID)),
            When(Q(paid__gt=0) | Q(credited__gt=0), then=Value(PaymentStatus.PARTLY_PAID)),
            default=Value(PaymentStatus.UNPAID),
        ),
        overdue=Case(
            When(outstanding=True, due_on__lt=business_today(), then=Value(True)),
            default=Value(False),
        ),
    )


def invoice_with_balance(*, invoice_id: Any) -> Any:
    """One visible document with its balance (`Invoice.DoesNotExist` outside the scope)."""
    return with_balance(invoices_visible()).get(pk=invoice_id)


def _status_condition(status: str) -> Q:
    """`status`: a `PaymentStatus` value, "overdue", or "open" (unpaid or partly paid)."""
    if status == PaymentStatus.PAID:
        return Q(kind=InvoiceKind.INVOICE, outstanding=False)
    if status == PaymentStatus.PARTLY_PAID:
        return Q(outstanding=True) & (Q(paid__gt=0) | Q(credited__gt=0))
    if status == PaymentStatus.UNPAID:
        return Q(outstanding=True, paid=0, credited=0)
    if status == "open":
        return Q(outstanding=True)
    if status == "overdue":
        return Q(outstanding=True, due_on__lt=business_today())
    raise ValueError(status)


def filter_by_status(queryset: QuerySet[Any], status: str) -> QuerySet[Any]:
    """`status`: a `PaymentStatus` value, "overdue", or "open" (unpaid or partly paid)."""
    return queryset.filter(_status_condition(status))


def balance_totals(invoices: QuerySet[Any]) -> dict[str, Any]:
    """Count, Σ total, Σ paid and Σ balance of `invoices`, in one query."""
    return invoices.order_by().aggregate(
        count=Count("id"),
        total=Coalesce(Sum("total"), _ZERO),
        paid=Coalesce(Sum("paid"), _ZERO),
        balance=Coalesce(Sum("balance"), _ZERO),
    )


def payments_of(invoice: Invoice) -> QuerySet[Payment]:
    return Payment.objects.filter(invoice=invoice).select_related("recorded_by")


def open_invoice_figures() -> dict[str, dict[str, Any]]:
    """Count and amount due of the invoices with a balance (unpaid or partly paid) and of the
    overdue ones, in the active scope, in one query over the outstanding invoices' index."""
    overdue = Q(due_on__lt=business_today())
    figures = (
        invoices_visible()
        .filter(outstanding=True)
        .order_by()
        .aggregate(
            open_count=Count("id"),
            open_amount=Coalesce(Sum("balance"), _ZERO),
            overdue_count=Count("id", filter=overdue),
            overdue_amount=Coalesce(Sum("balance", filter=overdue), _ZERO),
        )
    )
    return {
        "open": {"count": figures["open_count"], "amount": figures["open_amount"]},
        "overdue": {"count": figures["overdue_count"], "amount": figures["overdue_amount"]},
    }


# --- the finance ops home -------------------------------------------------------------------


@dataclass(frozen=True)
class MonthPremium:
    month: date
    premium: Decimal  # before tax: premiums + minimum adjustments, net of credit notes
    total: Decimal  # with tax
    invoices: int


def premium_by_month(*, months: int = 12, last: date | None = None) -> list[MonthPremium]:
    """The premium billed for each of the `months` months up to `last` (default: the month
    before today's, the one month-end billing has just billed), oldest first; a month without
    invoices is 0. One query over the invoice month index."""
    last = last or month_before(month_first(business_today()))
    first = _window_start(last, months)
    window = invoices_visible().filter(month__gte=first, month__lte=last)
    rows: dict[Any, dict[str, Any]] = {row["month"]: row for row in invoice_totals_by_month(window)}
    series = []
    month = first
    while month <= last:
        row = rows.get(month)
        series.append(
            MonthPremium(
                month=month,
                premium=(row["premium"] + row["adjustment"]) if row else Decimal("0.00"),
                total=row["total"] if row else Decimal("0.00"),
                invoices=row["invoices"] if row else 0,
            )
        )
        month = month_after(month)
    return series


def premium_trend(series: list[MonthPremium]) -> Decimal | None:
    """The last month's premium against the month before, in percent (None without a base)."""
    if len(series) < 2 or not series[-2].premium:
        return None
    change = (series[-1].premium - series[-2].premium) * 100 / series[-2].premium
    return change.quantize(Decimal("0.1"))

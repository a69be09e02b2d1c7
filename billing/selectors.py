"""Reads for billing. Tenant rows come from the scoped managers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
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

_MONEY: Any = DecimalField(max_digits=14, decimal_places=2)
_ZERO = Value(0, output_field=_MONEY)


def _sum_by_invoice(queryset: QuerySet[Any], link: str, column: str) -> Coalesce:
    """Σ `column` of the rows whose `link` is the outer invoice, as a correlated subquery (a
    join would multiply an invoice's rows); 0 when none."""
    rows = queryset.filter(**{link: OuterRef("pk")}).order_by().values(link)
    summed = rows.annotate(s=Sum(column)).values("s")[:1]
    return Coalesce(Subquery(summed, output_field=_MONEY), _ZERO)


def with_balance(queryset: QuerySet[Invoice]) -> QuerySet[Any]:
    """Annotate each document, in SQL: `paid` (payments received), `credited` (credit notes
    on it, positive), `balance` (total − credited − paid; 0 for a credit note), `payment_status`
    (`PaymentStatus`) and `overdue` (a balance left after the due date, business today)."""
    paid = _sum_by_invoice(Payment.objects.all(), "invoice", "amount")
    credited = _sum_by_invoice(Invoice.objects.all(), "credits", "total")
    annotated = queryset.annotate(paid=paid, credited=-credited).annotate(
        balance=Case(
            When(kind=InvoiceKind.CREDIT_NOTE, then=_ZERO),
            default=F("total") - F("credited") - F("paid"),
            output_field=_MONEY,
        )
    )
    return annotated.annotate(
        payment_status=Case(
            When(kind=InvoiceKind.CREDIT_NOTE, then=Value("")),
            When(balance__lte=0, then=Value(PaymentStatus.PAID)),
            When(Q(paid__gt=0) | Q(credited__gt=0), then=Value(PaymentStatus.PARTLY_PAID)),
            default=Value(PaymentStatus.UNPAID),
        ),
        overdue=Case(
            When(balance__gt=0, due_on__lt=business_today(), then=Value(True)),
            default=Value(False),
        ),
    )


def invoice_with_balance(*, invoice_id: Any) -> Any:
    """One visible document with its balance (`Invoice.DoesNotExist` outside the scope)."""
    return with_balance(invoices_visible()).get(pk=invoice_id)


def _balances_sql(invoices: QuerySet[Invoice]) -> tuple[str, list[Any]]:
    """SQL listing `id, kind, due_on, total, paid, credited, balance` for `invoices`, each sum
    aggregated once per table and hash-joined (the correlated sums of `with_balance` cost a
    lookup per invoice per mention: seconds over a book of 120 000 invoices, where this takes
    a fraction). Every part is built from the scoped managers, so it sees what they see."""
    inner, inner_params = (
        invoices.order_by().values("id", "kind", "due_on", "total").query.sql_with_params()
    )
    paid, paid_params = (
        Payment.objects.order_by()
        .values("invoice_id")
        .annotate(s=Sum("amount"))
        .values("invoice_id", "s")
        .query.sql_with_params()
    )
    notes, notes_params = (
        Invoice.objects.filter(credits__isnull=False)
        .order_by()
        .values("credits_id")
        .annotate(s=Sum("total"))
        .values("credits_id", "s")
        .query.sql_with_params()
    )
    sql = f"""
        SELECT i.id, i.kind, i.due_on, i.total, COALESCE(p.s, 0) AS paid,
               -COALESCE(c.s, 0) AS credited,
               CASE WHEN i.kind = 'invoice' THEN i.total + COALESCE(c.s, 0) - COALESCE(p.s, 0)
                    ELSE 0 END AS balance
          FROM ({inner}) AS i
          LEFT JOIN ({paid}) AS p ON p.invoice_id = i.id
          LEFT JOIN ({notes}) AS c ON c.credits_id = i.id
    """  # noqa: S608 - only Django-compiled SQL is interpolated; values are bound
    return sql, [*inner_params, *paid_params, *notes_params]


_STATUS_CONDITIONS = {
    PaymentStatus.PAID: "kind = 'invoice' AND balance <= 0",
    PaymentStatus.PARTLY_PAID: "kind = 'invoice' AND balance > 0 AND (paid > 0 OR credited > 0)",
    PaymentStatus.UNPAID: "kind = 'invoice' AND balance > 0 AND paid = 0 AND credited = 0",
    "open": "kind = 'invoice' AND balance > 0",
    "overdue": "kind = 'invoice' AND balance > 0 AND due_on < %s",
}


def filter_by_status(queryset: QuerySet[Any], status: str) -> QuerySet[Any]:
    """`status`: a `PaymentStatus` value, "overdue", or "open" (unpaid or partly paid)."""
    balances, params = _balances_sql(Invoice.objects.all())
    condition = _STATUS_CONDITIONS[status]
    if "%s" in condition:
        params = [*params, business_today()]
    query = f"SELECT id FROM ({balances}) AS b WHERE {condition}"  # noqa: S608 - see _balances_sql
    ids = RawSQL(query, params)  # noqa: S611 - see _balances_sql
    return queryset.filter(pk__in=ids)


def balance_totals(invoices: QuerySet[Any]) -> dict[str, Any]:
    """Count, Σ total, Σ paid and Σ balance of `invoices`, in one query."""
    balances, params = _balances_sql(invoices)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COALESCE(SUM(total), 0), COALESCE(SUM(paid), 0), "  # noqa: S608
            f"COALESCE(SUM(balance), 0) FROM ({balances}) AS b",
            params,
        )
        count, total, paid, balance = cursor.fetchone()
    return {"count": count, "total": total, "paid": paid, "balance": balance}


def payments_of(invoice: Invoice) -> QuerySet[Payment]:
    return Payment.objects.filter(invoice=invoice).select_related("recorded_by")


def open_invoice_figures() -> dict[str, dict[str, Any]]:
    """Count and amount due of the invoices with a balance (unpaid or partly paid) and of the
    overdue ones, in the active scope, in one query."""
    balances, params = _balances_sql(invoices_visible().filter(kind=InvoiceKind.INVOICE))
    today = business_today()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT COUNT(*), COALESCE(SUM(balance), 0),
                       COUNT(*) FILTER (WHERE due_on < %s),
                       COALESCE(SUM(balance) FILTER (WHERE due_on < %s), 0)
                  FROM ({balances}) AS b WHERE balance > 0""",  # noqa: S608 - see _balances_sql
            [today, today, *params],
        )
        open_count, open_amount, overdue_count, overdue_amount = cursor.fetchone()
    return {
        "open": {"count": open_count, "amount": open_amount},
        "overdue": {"count": overdue_count, "amount": overdue_amount},
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
    first = last
    for _step in range(months - 1):
        first = month_before(first)
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

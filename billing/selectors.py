"""Reads for billing. Tenant rows come from the scoped managers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from uuid import UUID

from django.db.models import Count, Q, QuerySet, Sum

from billing.models import BillingRun, Invoice, InvoiceKind
from billing.premium import month_after, parse_month
from portal.models import Role, User
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
    *, policyholder_ids: Iterable[UUID]
) -> dict[UUID, list[User]]:
    recipients: dict[UUID, list[User]] = defaultdict(list)
    for user in User.objects.filter(
        organisation_id__in=list(policyholder_ids), role=Role.FINANCE, is_active=True
    ).order_by("pk"):
        if user.organisation_id is not None:  # always set: the filter above matched it
            recipients[user.organisation_id].append(user)
    return recipients


def billing_runs(limit: int = 20) -> QuerySet[BillingRun]:
    return BillingRun.objects.select_related("started_by")[:limit]

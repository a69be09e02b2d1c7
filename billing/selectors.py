"""Reads for billing. Tenant rows come from the scoped managers; the premium bases come from one
set-based SQL aggregate per batch of contracts (daterange intersection with the month)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from uuid import UUID

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum

from billing.models import BillingRun, Invoice, InvoiceKind
from billing.premium import BuyerBase, month_after
from portal.models import Role, User
from underwriting.models import Buyer, Contract, ContractStatus, Guarantee

# Per (contract, buyer): the peak amount over the periods that meet the month, and
# Σ amount × days of each period's intersection with the month. Periods of one (contract, buyer)
# never overlap (exclusion constraint), so Σ days is the number of days in force.
# Only the model's table names are interpolated; every value is a bound parameter.
BASES_SQL = f"""
SELECT g.contract_id,
       g.buyer_id,
       b.name,
       COALESCE(b.siren, b.vat_number, ''),
       MAX(g.amount),
       SUM(g.amount * (upper(g.period * m.r) - lower(g.period * m.r))),
       SUM(upper(g.period * m.r) - lower(g.period * m.r))
  FROM {Guarantee._meta.db_table} g
  JOIN {Buyer._meta.db_table} b ON b.id = g.buyer_id
 CROSS JOIN (SELECT daterange(%(first)s, %(next)s, '[)') AS r) m
 WHERE g.contract_id = ANY(%(contracts)s)
   AND g.period && m.r
 GROUP BY g.contract_id, g.buyer_id, b.name, b.siren, b.vat_number
 ORDER BY g.contract_id, b.name, g.buyer_id
"""  # noqa: S608


def premium_bases(*, month: date, contract_ids: Sequence[UUID]) -> dict[UUID, list[BuyerBase]]:
    """The buyer bases of each contract for `month`, in one query. The caller has already
    chosen the contracts through a scoped manager."""
    bases: dict[UUID, list[BuyerBase]] = defaultdict(list)
    if not contract_ids:
        return bases
    with connection.cursor() as cursor:
        cursor.execute(
            BASES_SQL,
            {"first": month, "next": month_after(month), "contracts": list(contract_ids)},
        )
        for contract_id, buyer_id, name, identifier, peak, amount_days, days in cursor:
            bases[contract_id].append(
                BuyerBase(
                    contract_id=contract_id,
                    buyer_id=buyer_id,
                    buyer_name=name,
                    buyer_identifier=identifier,
                    peak=peak,
                    amount_days=amount_days,
                    days_in_force=days,
                )
            )
    return bases


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


def finance_recipients(*, policyholder_id: UUID) -> QuerySet[User]:
    return User.objects.filter(
        organisation_id=policyholder_id, role=Role.FINANCE, is_active=True
    ).order_by("pk")


def billing_runs(limit: int = 20) -> QuerySet[BillingRun]:
    return BillingRun.objects.select_related("started_by")[:limit]

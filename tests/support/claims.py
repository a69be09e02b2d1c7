"""Helpers for the claims tests: invoices as the declaration form gives them, a buyer with a
top-up history on a tenant's contract, and a claim taken to the primary's settlement."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db.backends.postgresql.psycopg_any import DateRange
from django_scopes import scopes_disabled

from claims import services
from claims.invoices_csv import InvoiceData
from claims.models import Claim
from portal.models import Role, User
from portal.timeutils import business_today
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.scopes import acting_as
from tests.support.world import Tenant, World
from underwriting.models import Buyer


def unpaid(
    number: str,
    amount: str,
    *,
    delivered: date,
    term_days: int = 60,
    invoiced: date | None = None,
) -> InvoiceData:
    """An invoice delivered on `delivered`, invoiced the same day, due `term_days` later."""
    return InvoiceData(
        number=number,
        amount=Decimal(amount),
        invoice_date=invoiced or delivered,
        delivery_date=delivered,
        due_date=delivered + timedelta(days=term_days),
    )


def recently_due(days_ago: int = 10) -> date:
    """A delivery date whose invoice (60 days' term) fell due `days_ago` days ago."""
    return business_today() - timedelta(days=60 + days_ago)


def covered_buyer(
    tenant: Tenant,
    *,
    top_up: str = "40000",
    primary: str = "40000",
    since: date = date(2025, 1, 1),
    until: date | None = None,
) -> Buyer:
    buyer = BuyerFactory.create()
    GuaranteeFactory.create(
        contract=tenant.contract,
        buyer=buyer,
        amount=Decimal(top_up),
        primary_amount=Decimal(primary),
        period=DateRange(since, until, "[)"),
    )
    return buyer


def declared(tenant: Tenant, buyer: Buyer, *invoices: InvoiceData, by: User | None = None) -> Claim:
    actor = by or tenant.credit_manager
    with acting_as(actor):
        return services.claim_declare(
            contract=tenant.contract, buyer=buyer, invoices=list(invoices), actor=actor
        )


def handler(world: World) -> User:
    return world.staff[Role.CLAIMS_HANDLER]


def settled(world: World, claim: Claim, primary_paid: str = "36000") -> Claim:
    """Recovery started, then the primary's settlement recorded, as the handler does."""
    actor = handler(world)
    with acting_as(actor):
        services.claim_recovery_start(claim_id=claim.pk, actor=actor)
        return services.claim_primary_settle(
            claim_id=claim.pk,
            amount=Decimal(primary_paid),
            settled_on=business_today(),
            actor=actor,
        )


def no_waiting(tenant: Tenant) -> None:
    """The tests that compute at once: no waiting period on the contract."""
    contract = tenant.contract
    contract.waiting_period_days = 0
    with scopes_disabled():  # arrangement: the named bypass
        contract.save(update_fields=["waiting_period_days"])

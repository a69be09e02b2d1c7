"""Helpers for the billing tests: guarantee periods written as the underwriting app stores them
(`[from, to)`, upper None = open-ended), a book of policyholders to bill, invoices a test
expects to be issued, and eager Celery so PDFs and e-mails run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from django.db.backends.postgresql.psycopg_any import DateRange
from django_scopes import scopes_disabled

from billing.models import Invoice
from billing.services import invoice_issue
from tests.support.factories import (
    BuyerFactory,
    ContractFactory,
    GuaranteeFactory,
    OrganisationFactory,
)
from underwriting.models import Buyer, Contract, Guarantee, GuaranteeChange
from unlockplus.celery import app as celery_app


def guarantee(
    contract: Contract,
    buyer: Buyer,
    amount: str,
    starts: date,
    ends_before: date | None = None,
    change: str = GuaranteeChange.GRANT,
) -> Guarantee:
    return GuaranteeFactory.create(
        contract=contract,
        buyer=buyer,
        amount=Decimal(amount),
        period=DateRange(starts, ends_before, "[)"),
        change=change,
    )


def book(contracts: int) -> list[Contract]:
    """`contracts` extra policyholders, each with one contract and two buyers in force in
    October: 40 000 all month and 10 000 from the 15th.
    Peak premium per contract: 40 000 × 0.0012 + 10 000 × 0.0012 = 48.00 + 12.00 = 60.00."""
    made = []
    shared = [BuyerFactory.create(name="Shared A"), BuyerFactory.create(name="Shared B")]
    for _ in range(contracts):
        contract = ContractFactory.create(policyholder=OrganisationFactory.create())
        guarantee(contract, shared[0], "40000", date(2026, 1, 1))
        guarantee(contract, shared[1], "10000", date(2026, 10, 15))
        made.append(contract)
    return made


def issued(contract: Contract, month: date) -> Invoice:
    """`invoice_issue` where the test expects an invoice (None means nothing was issued).

    Runs in the caller's scope: wrap it in `insurer_scope()` or `acting_as(...)` as before."""
    invoice = invoice_issue(contract=contract, month=month)
    assert invoice is not None, f"no invoice issued for {contract.number} in {month:%Y-%m}"
    return invoice


def set_terms(contract: Contract, **terms: object) -> None:
    for name, value in terms.items():
        setattr(contract, name, value)
    with scopes_disabled():  # arrangement: the named bypass
        contract.save(update_fields=list(terms))


@contextmanager
def celery_eager() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous

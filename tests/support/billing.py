"""Helpers for the billing tests: guarantee periods written as the underwriting app stores them
(`[from, to)`, upper None = open-ended) and eager Celery so PDFs and e-mails run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from django.db.backends.postgresql.psycopg_any import DateRange

from tests.support.factories import GuaranteeFactory
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


def set_terms(contract: Contract, **terms: object) -> None:
    for name, value in terms.items():
        setattr(contract, name, value)
    contract.save(update_fields=list(terms))


@contextmanager
def celery_eager() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous

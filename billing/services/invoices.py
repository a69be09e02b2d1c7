"""Issuing premium invoices, once per (contract, month), with gap-free numbers.

Exactly once: every issue takes the row lock of its year's number sequence, then checks that the
(contract, month) has no invoice yet, in the same transaction. Issuers therefore number one at a
time, the check sees every committed invoice, a rolled-back issue gives its number back (no
gaps), and the unique constraint on (contract, month) is the backstop. An invoice copies
identities and terms into its own rows; its PDF is rendered from them after commit.

A group's lines (the bulk of its writes) are computed and written *before* the lock, under
invoice ids chosen in advance (the lines' foreign key to their invoice is checked at commit):
issuers working in parallel (the groups of a billing run on several workers) write their lines
side by side and take turns only to number and write the invoices themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import premium_sql, selectors
from billing.events import BillingEvent
from billing.models import (
    BillingRun,
    Invoice,
    InvoiceKind,
    InvoiceNumberSequence,
)
from billing.premium import ZERO, days_in, invoice_totals, month_after, month_first
from portal.errors import RuleViolation
from portal.events import events_record_bulk
from portal.ids import uuid7
from portal.kick import kick_after_commit
from portal.models import Organisation, OrganisationKind, User
from portal.timeutils import business_date, business_today
from underwriting.models import Contract


@dataclass(frozen=True)
class Issuer:
    """The insurer's identity and payment details, as printed on every document."""

    name: str
    address: str
    siren: str
    iban: str
    bic: str
    bank: str


def issuer_details() -> Issuer:
    insurer = (
        Organisation.objects.filter(kind=OrganisationKind.INSURER).order_by("created_at").first()
    )
    if insurer is None:
        raise RuleViolation(_("Aucun assureur n'est enregistré : impossible d'émettre."))
    return Issuer(
        name=insurer.name,
        address=insurer.address,
        siren=insurer.siren,
        iban=settings.BILLING_IBAN,
        bic=settings.BILLING_BIC,
        bank=settings.BILLING_BANK,
    )


def billable_month(month: date) -> date:
    """`month` as the first day of a month that is over (Europe/Paris)."""
    first = month_first(month)
    if first >= month_first(business_today()):
        raise RuleViolation(
            _("Seul un mois échu peut être facturé (%(month)s ne l'est pas).")
            % {"month": f"{first:%m/%Y}"},
            field="month",
        )
    return first


def _locked_sequence(year: int) -> InvoiceNumberSequence:
    sequence = InvoiceNumberSequence.objects.select_for_update().filter(year=year).first()
    if sequence is None:
        InvoiceNumberSequence.objects.bulk_create(
            [InvoiceNumberSequence(year=year, last=0)], ignore_conflicts=True
        )
        sequence = InvoiceNumberSequence.objects.select_for_update().get(year=year)
    return sequence


def lock_numbering() -> tuple[InvoiceNumberSequence, Any]:
    """Lock this year's sequence and read the clock once the lock is held, so the numbers
    follow the issue times."""
    sequence = _locked_sequence(business_today().year)
    issued_at = timezone.now()
    if business_date(issued_at).year != sequence.year:  # waited across New Year's Eve
        sequence = _locked_sequence(business_date(issued_at).year)
    return sequence, issued_at


def _number(year: int, sequence: int) -> dict[str, Any]:
    return {"year": year, "sequence": sequence, "number": f"UP-{year}-{sequence:06d}"}


def take_number(sequence: InvoiceNumberSequence) -> dict[str, Any]:
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return _number(sequence.year, sequence.last)


def dates_of(issued_at: Any) -> dict[str, Any]:
    issued_on = business_date(issued_at)
    return {
        "issued_at": issued_at,
        "issued_on": issued_on,
        "due_on": issued_on + timedelta(days=settings.BILLING_PAYMENT_TERM_DAYS),
    }


def render_after_commit(invoices: Sequence[Invoice]) -> None:
    """One render task per committed group (a month enqueues tens of messages, not 10 000).
    Only the fast path: a lost kick leaves invoices without a PDF, which the sweep finds."""
    from billing.tasks import invoice_render_pdfs

    kick_after_commit(invoice_render_pdfs, invoice_ids=[str(invoice.pk) for invoice in invoices])


def _invoice_document(
    *,
    contract: Contract,
    month: date,
    premium_total: Decimal,
    issuer: Issuer,
    number: dict[str, Any],
    dates: dict[str, Any],
    run: BillingRun | None,
    actor: User | None,
    pk: UUID | None = None,
) -> Invoice:
    """The invoice row of `contract`, with identities and terms copied as they are today."""
    totals = invoice_totals(
        premiums=[premium_total],
        minimum_premium=contract.minimum_premium,
        tax_rate=contract.tax_rate,
    )
    policyholder = contract.policyholder
    return Invoice(
        pk=pk or uuid7(),
        policyholder=policyholder,
        kind=InvoiceKind.INVOICE,
        contract=contract,
        month=month,
        **number,
        **dates,
        issued_by=actor if actor is not None and actor.pk else None,
        billing_run=run,
        insurer_name=issuer.name,
        insurer_address=issuer.address,
        insurer_siren=issuer.siren,
        payment_iban=issuer.iban,
        payment_bic=issuer.bic,
        payment_bank=issuer.bank,
        policyholder_name=policyholder.name,
        policyholder_address=policyholder.address,
        policyholder_siren=policyholder.siren,
        contract_number=contract.number,
        premium_basis=contract.premium_basis,
        monthly_rate=contract.monthly_rate,
        days_in_month=days_in(month),
        minimum_premium=contract.minimum_premium,
        tax_rate=contract.tax_rate,
        premium_total=totals.premium_total,
        minimum_adjustment=totals.minimum_adjustment,
        tax_amount=totals.tax_amount,
        total=totals.total,
    )


def _invoiced(contracts: Sequence[Contract], month: date) -> set[UUID]:
    """Those of `contracts` invoiced for `month` already, looked up by (contract, month) in the
    one-invoice-per-month index. Not an anti-join in the selection of the contracts: the
    month's invoices are being written as it runs, so their statistics say there are none, and
    PostgreSQL would compare each contract with every invoice of the month (quadratic over a
    run)."""
    return set(
        Invoice.objects.filter(
            kind=InvoiceKind.INVOICE, month=month, contract__in=[c.pk for c in contracts]
        ).values_list("contract_id", flat=True)
    )


def issue_invoices(
    *,
    contracts: Sequence[Contract],
    month: date,
    issuer: Issuer,
    run: BillingRun | None,
    actor: User | None,
) -> list[Invoice]:
    """Issue the month's invoice of each contract that has none yet, set-based.

    Must run inside a transaction. The line premiums are computed and written by PostgreSQL in
    one statement (`premium_sql`): a month of 1 000 000 guarantee lines never travels through
    Python. Contracts with nothing in force and no minimum premium get no invoice.
    """
    # A contract is billed only for a month that meets its own dates (never a draft): the
    # run's own selection, asked again for contracts issued one by one. Those invoiced already
    # are left out here, and once more under the numbering lock below.
    billable = set(
        selectors.contracts_to_bill(month=month)
        .filter(pk__in=[c.pk for c in contracts])
        .values_list("pk", flat=True)
    ) - _invoiced(contracts, month)
    contracts = [c for c in contracts if c.pk in billable]
    if not contracts:
        return []
    invoice_ids = {contract.pk: uuid7() for contract in contracts}
    with connection.cursor() as cursor:
        cursor.execute(premium_sql.CHECKED_NOW)
        (checked_now,) = cursor.fetchone()
        cursor.execute(f"SET CONSTRAINTS {checked_now} IMMEDIATE")
        cursor.execute(
            premium_sql.INSERT_LINES,
            {
                "first": month,
                "next": month_after(month),
                "days_in_month": days_in(month),
                "contracts": [contract.pk for contract in contracts],
                "invoices": [invoice_ids[contract.pk] for contract in contracts],
                "policyholders": [contract.policyholder_id for contract in contracts],
            },
        )
        sums: dict[UUID, Decimal] = dict(cursor.fetchall())
        cursor.execute(f"SET CONSTRAINTS {checked_now} DEFERRED")
    sequence, issued_at = lock_numbering()
    # Checked under the numbering lock: every issuer holds it until it commits.
    invoiced = _invoiced(contracts, month)
    if invoiced:  # issued by someone else since: their lines written above are given up
        with connection.cursor() as cursor:
            cursor.execute(
                premium_sql.DELETE_LINES, {"invoices": [invoice_ids[pk] for pk in invoiced]}
            )
    dates = dates_of(issued_at)
    invoices = [
        _invoice_document(
            contract=contract,
            month=month,
            premium_total=sums.get(invoice_ids[contract.pk], ZERO),
            issuer=issuer,
            number=_number(sequence.year, sequence.last + position),
            dates=dates,
            run=run,
            actor=actor,
            pk=invoice_ids[contract.pk],
        )
        for position, contract in enumerate(
            (
                c
                for c in contracts
                if c.pk not in invoiced
                and (invoice_ids[c.pk] in sums or c.minimum_premium is not None)
            ),
            start=1,
        )
    ]
    if not invoices:
        return []
    sequence.last += len(invoices)
    sequence.save(update_fields=["last"])
    Invoice.objects.bulk_create(invoices)
    events_record_bulk(
        action=BillingEvent.INVOICE_ISSUED,
        actor=actor,
        items=[
            (
                invoice,
                invoice.policyholder_id,
                {
                    "number": invoice.number,
                    "month": f"{month:%Y-%m}",
                    "total": str(invoice.total),
                    "run": str(run.pk) if run else None,
                },
            )
            for invoice in invoices
        ],
    )
    render_after_commit(invoices)
    return invoices


@transaction.atomic
def invoice_issue(
    *,
    contract: Contract,
    month: date,
    issuer: Issuer | None = None,
    run: BillingRun | None = None,
    actor: User | None = None,
) -> Invoice | None:
    """Issue the premium invoice of `contract` for `month`, once.

    Returns None when the month is already invoiced, or when there is nothing to bill (no
    guarantee in force and no minimum premium).
    """
    issued = issue_invoices(
        contracts=[contract],
        month=billable_month(month),
        issuer=issuer or issuer_details(),
        run=run,
        actor=actor,
    )
    return issued[0] if issued else None

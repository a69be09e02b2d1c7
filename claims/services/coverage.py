"""What the top-up covered at each delivery date, and when the waiting period ends. Building
blocks: they read, in the caller's scope and transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from claims.models import Exclusion, WaitingReason
from monitoring.models import OPENINGS, NoticeState, ProceedingsNotice
from underwriting.models import Buyer, Contract, Guarantee

ZERO = Decimal("0")


@dataclass(frozen=True)
class InvoiceCover:
    primary_limit: Decimal
    top_up_limit: Decimal
    exclusion: str

    @property
    def covered(self) -> bool:
        return not self.exclusion


def invoice_cover(
    *, contract: Contract, buyer: Buyer, delivery_date: date, due_date: date
) -> InvoiceCover:
    """The limits in force on the delivery date (the top-up period then in force, with the
    primary limit it recorded), and why the top-up does not cover the invoice, if it does not."""
    period = (
        Guarantee.objects.filter(contract=contract, buyer=buyer, period__contains=delivery_date)
        .only("amount", "primary_amount")
        .first()
    )
    if period is None:
        return InvoiceCover(ZERO, ZERO, Exclusion.OUTSIDE_TOP_UP)
    if (due_date - delivery_date).days > contract.max_credit_term_days:
        return InvoiceCover(period.primary_amount, period.amount, Exclusion.CREDIT_TERM)
    return InvoiceCover(period.primary_amount, period.amount, Exclusion.COVERED)


def declaration_deadline(*, contract: Contract, due_date: date) -> date:
    """The last day an unpaid invoice may be declared: its due date + the declaration deadline."""
    return due_date + timedelta(days=contract.declaration_deadline_days)


@dataclass(frozen=True)
class WaitingPeriod:
    ends_on: date
    reason: str
    judgment_on: date | None = None


def waiting_period(
    *, contract: Contract, buyer: Buyer, earliest_due: date, since: date
) -> WaitingPeriod:
    """The earliest due date + the contract's waiting period, or at once when collective
    proceedings open on the buyer (a judgment in force, opening, dated from `since`, the first
    delivery of the claim)."""
    normal = WaitingPeriod(
        ends_on=earliest_due + timedelta(days=contract.waiting_period_days),
        reason=WaitingReason.DUE_DATE,
    )
    opening = (
        ProceedingsNotice.objects.filter(
            buyer=buyer, state=NoticeState.ACTIVE, event__in=OPENINGS, judged_on__gte=since
        )
        .exclude(kind="cancellation")
        .order_by("judged_on")
        .values_list("judged_on", flat=True)
        .first()
    )
    if opening is not None and opening < normal.ends_on:
        return WaitingPeriod(ends_on=opening, reason=WaitingReason.PROCEEDINGS, judgment_on=opening)
    return normal

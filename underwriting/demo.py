"""Demo guarantees and open requests, so the queue and the wholesaler pages are not empty.

Keyed by each request's idempotency key (`demo-<contract>-<n>`): building twice changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone

from portal.models import Organisation, User
from underwriting.models import (
    Buyer,
    Contract,
    Decision,
    Guarantee,
    GuaranteeRequest,
    RequestStatus,
)

# (exposure, primary, top-up, decided?) per demo line: the seed example first.
LINES = [
    ("100000", "40000", "40000", True),
    ("60000", "25000", "30000", True),
    ("250000", "80000", "120000", True),
    ("45000", "15000", "20000", True),
    ("90000", "30000", "50000", False),
    ("150000", "50000", "90000", False),
    ("30000", "10000", "15000", False),
]


def build_demo_underwriting(*, policyholders: list[Organisation], buyers: list[Buyer]) -> None:
    """Call with the scope disabled, inside the demo world's transaction."""
    now = timezone.now()
    for p_index, policyholder in enumerate(policyholders):
        contract = Contract.objects.filter(policyholder=policyholder).order_by("number").first()
        submitter = User.objects.filter(organisation=policyholder).order_by("username").first()
        if contract is None or submitter is None:
            continue
        for index, (exposure, primary, top_up, decided) in enumerate(LINES):
            key = f"demo-{contract.number}-{index}"
            if GuaranteeRequest.objects.filter(
                policyholder=policyholder, idempotency_key=key
            ).exists():
                continue
            buyer = buyers[(p_index * 17 + index * 3) % len(buyers)]
            # Decided lines date back months (granted one after another: the premium grows
            # over the months billed), open ones from the last days.
            submitted = now - timedelta(days=150 - index * 35 if decided else index)
            request = GuaranteeRequest.objects.create(
                policyholder=policyholder,
                contract=contract,
                buyer=buyer,
                exposure=Decimal(exposure),
                primary_amount=Decimal(primary),
                requested_top_up=Decimal(top_up),
                credit_term_days=60,
                reason="new_order" if index % 2 == 0 else "seasonal",
                submitted_by=submitter,
                submitted_at=submitted,
                due_at=submitted + timedelta(hours=48),
                assigned_to=policyholder.dedicated_arbiter,
                status=RequestStatus.APPROVED if decided else RequestStatus.OPEN,
                closed_at=submitted + timedelta(hours=20) if decided else None,
                idempotency_key=key,
            )
            if not decided:
                continue
            valid_from = max(contract.starts_on, submitted.date())
            decision = Decision.objects.create(
                policyholder=policyholder,
                request=request,
                outcome="approved",
                amount=Decimal(top_up),
                valid_from=valid_from,
                rationale="Dossier de démonstration",
                decided_by=policyholder.dedicated_arbiter,
                decided_at=submitted + timedelta(hours=20),
            )
            Guarantee.objects.create(
                policyholder=policyholder,
                contract=contract,
                buyer=buyer,
                amount=Decimal(top_up),
                primary_amount=Decimal(primary),
                exposure=Decimal(exposure),
                period=DateRange(valid_from, None, "[)"),
                change="grant",
                created_by=policyholder.dedicated_arbiter,
                decision=decision,
                note="Dossier de démonstration",
            )


__all__ = ["build_demo_underwriting"]

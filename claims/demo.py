"""Demo claims for the demo wholesaler Distrilog, made through the real services as its credit
manager, the claims handler and a senior arbiter would:

- one claim just declared, on two invoices: one covered, one delivered before the top-up on
  that buyer started (not covered, with its reason);
- one claim taken through recovery, the primary's settlement, the indemnity (the seed case:
  loss 100 000, P 40 000, T 40 000, q 90 % → 36 000), its countersigned approval and payment.

Each claim has a buyer of its own (with its top-up history, written as the underwriting demo
writes guarantees) and is keyed by its invoice numbers: building twice changes nothing.

The services own their transactions (durable): call this after the demo world committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from django.db.backends.postgresql.psycopg_any import DateRange
from django_scopes import scopes_disabled

from claims import services
from claims.invoices_csv import InvoiceData
from claims.models import Claim, ClaimInvoice, ClaimStatus
from portal.demo import DEMO_DOMAIN, demo_siren
from portal.models import Organisation, OrganisationKind, User
from portal.tenancy import policyholder_scope_for, tenant_scope
from portal.timeutils import business_today
from underwriting.models import Buyer, Contract, ContractStatus, Guarantee, GuaranteeChange

DISTRILOG_SIREN = "552100554"
# The demo contract's waiting period. With DESIGN's example terms (declaration within 60 days
# of the due date, waiting period 150 days after it) no claim can be both declared on time and
# past its waiting period on the day the demo is built; Distrilog's demo contract is set to
# 30 days so that the settled claim (invoices due 30 to 40 days ago) is computed today.
DEMO_WAITING_PERIOD_DAYS = 30
# Two buyers of their own, outside the underwriting demo's 200: (SIREN, name, city).
DECLARED_BUYER = (demo_siren(900), "Numériboutique Annecy", "Annecy")
PAID_BUYER = (demo_siren(901), "Réseau Pro Informatique Grenoble", "Grenoble")


def _user(username: str) -> User:
    return User.objects.get(username=f"{username}@{DEMO_DOMAIN}")


def _buyer(siren: str, name: str, city: str) -> Buyer:
    buyer, _ = Buyer.objects.get_or_create(
        siren=siren, defaults={"name": name, "city": city, "grade": 4}
    )
    return buyer


def _top_up(contract: Contract, buyer: Buyer, since: date, arbiter: User | None) -> None:
    """The seed example's limits (P 40 000, T 40 000) on the buyer from `since`."""
    if Guarantee.objects.filter(contract=contract, buyer=buyer).exists():
        return
    Guarantee.objects.create(
        policyholder=contract.policyholder,
        contract=contract,
        buyer=buyer,
        amount=Decimal("40000"),
        primary_amount=Decimal("40000"),
        exposure=Decimal("100000"),
        period=DateRange(since, None, "[)"),
        change=GuaranteeChange.GRANT,
        created_by=arbiter,
        note="Dossier de démonstration",
    )


def _invoice(number: str, amount: str, *, delivered: date, term_days: int) -> InvoiceData:
    return InvoiceData(
        number=number,
        amount=Decimal(amount),
        invoice_date=delivered,
        delivery_date=delivered,
        due_date=delivered + timedelta(days=term_days),
    )


def _declared(contract: Contract, buyer: Buyer, number: str) -> bool:
    return ClaimInvoice.objects.filter(
        policyholder=contract.policyholder, buyer=buyer, number=number
    ).exists()


def build_demo_claims() -> None:
    today = business_today()
    with scopes_disabled():
        distrilog = Organisation.objects.filter(
            kind=OrganisationKind.POLICYHOLDER, siren=DISTRILOG_SIREN
        ).first()
        contract = (
            Contract.objects.filter(policyholder=distrilog, status=ContractStatus.ACTIVE)
            .order_by("number")
            .first()
        )
        if distrilog is None or contract is None or contract.starts_on > today - timedelta(100):
            return  # no demo world, or too early in the contract for invoices now due
        if contract.waiting_period_days != DEMO_WAITING_PERIOD_DAYS:
            contract.waiting_period_days = DEMO_WAITING_PERIOD_DAYS
            contract.save(update_fields=["waiting_period_days"])
        credit_manager = _user("credit.distrilog")
        claims_handler = _user("sinistres")
        senior = _user("senior")
        declared_buyer = _buyer(*DECLARED_BUYER)
        paid_buyer = _buyer(*PAID_BUYER)
        # The first buyer's top-up started 45 days ago: an invoice delivered before is not
        # covered. The second's runs from the contract's start.
        _top_up(contract, declared_buyer, today - timedelta(days=45), distrilog.dedicated_arbiter)
        _top_up(contract, paid_buyer, contract.starts_on, distrilog.dedicated_arbiter)
        declare_first = not _declared(contract, declared_buyer, "DL-2026-0912")
        second = Claim.objects.filter(
            policyholder=distrilog, buyer=paid_buyer, invoices__number="DL-2026-0774"
        ).first()

    if declare_first:
        _just_declared(contract, declared_buyer, credit_manager, today)
    if second is None:
        second = _declare(
            contract,
            paid_buyer,
            credit_manager,
            [
                _invoice("DL-2026-0774", "70000", delivered=today - timedelta(100), term_days=60),
                _invoice("DL-2026-0781", "30000", delivered=today - timedelta(90), term_days=60),
            ],
        )
    _settled_and_paid(second, claims_handler, senior, today)


def _declare(contract: Contract, buyer: Buyer, actor: User, invoices: list[InvoiceData]) -> Claim:
    with tenant_scope(policyholder_scope_for(actor)):
        return services.claim_declare(
            contract=contract, buyer=buyer, invoices=invoices, actor=actor
        )


def _just_declared(contract: Contract, buyer: Buyer, actor: User, today: date) -> None:
    _declare(
        contract,
        buyer,
        actor,
        [
            # Delivered 40 days ago, under the top-up: covered.
            _invoice("DL-2026-0912", "18450.00", delivered=today - timedelta(40), term_days=30),
            # Delivered 70 days ago, before the top-up started: "outside any top-up period".
            _invoice("DL-2026-0867", "9320.40", delivered=today - timedelta(70), term_days=45),
        ],
    )


def _settled_and_paid(claim: Claim, handler: User, senior: User, today: date) -> None:
    """Each step the claim has not been through yet, so that an interrupted build resumes."""
    steps: dict[str, Callable[[], object]] = {
        ClaimStatus.DECLARED: lambda: services.claim_recovery_start(
            claim_id=claim.pk, actor=handler, note="Mise en demeure par l'assureur primaire."
        ),
        ClaimStatus.IN_RECOVERY: lambda: services.claim_primary_settle(
            claim_id=claim.pk,
            amount=Decimal("36000"),
            settled_on=today - timedelta(days=2),
            actor=handler,
            note="Indemnité du primaire : 90 % de sa limite de 40 000 €.",
        ),
        ClaimStatus.PRIMARY_SETTLED: lambda: services.claim_indemnity_compute(
            claim_id=claim.pk, actor=handler
        ),
        # The demo handler has no authority amount: a senior arbiter countersigns.
        ClaimStatus.INDEMNITY_COMPUTED: lambda: services.claim_indemnity_approve(
            claim_id=claim.pk, actor=handler
        ),
        ClaimStatus.AWAITING_COUNTERSIGNATURE: lambda: services.claim_indemnity_countersign(
            claim_id=claim.pk, actor=senior, approve=True, note="Calcul vérifié."
        ),
        ClaimStatus.APPROVED: lambda: services.claim_indemnity_pay(
            claim_id=claim.pk, paid_on=today, reference="VIR-DEMO-0774", actor=handler
        ),
    }
    with tenant_scope(policyholder_scope_for(handler)):
        status = claim.status
        while status in steps:
            steps[status]()
            status = Claim.objects.values_list("status", flat=True).get(pk=claim.pk)


__all__ = ["build_demo_claims"]

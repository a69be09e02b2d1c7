"""factory_boy factories. Children take their tenant from their parent, so a row can never
straddle two policyholders."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import factory
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Model
from django.utils import timezone
from django_scopes import scopes_disabled
from stdnum import luhn

from billing.models import Invoice, InvoiceKind, InvoiceLine
from portal.models import Mandate, Organisation, OrganisationKind, Role, User
from underwriting.models import (
    Buyer,
    Contract,
    ContractStatus,
    Decision,
    DecisionOutcome,
    Guarantee,
    GuaranteeChange,
    GuaranteeRequest,
    RequestReason,
    RequestStatus,
)

PASSWORD = "correct-horse-battery-staple"

M = TypeVar("M", bound=Model)


class ArrangedFactory(factory.django.DjangoModelFactory[M]):
    """Arranging a test is not acting as a tenant: a factory writes (and reads the parents it
    derives from) under the named bypass, `scopes_disabled()`, which row-level security honours
    as it does for a task. The suite runs as an ordinary role, so without it PostgreSQL would
    refuse every tenant row written outside a scope. The code under test runs in its own scope."""

    class Meta:
        abstract = True

    @classmethod
    def _generate(cls, strategy: Any, params: Any) -> M:
        with scopes_disabled():
            return super()._generate(strategy, params)


def siren_for(n: int) -> str:
    base = f"{(70_000_000 + n * 104_729) % 100_000_000:08d}"
    return base + luhn.calc_check_digit(base)


class OrganisationFactory(ArrangedFactory[Organisation]):
    class Meta:
        model = Organisation

    kind = OrganisationKind.POLICYHOLDER
    # A declaration here, a plain value in InsurerFactory: factory_boy takes either.
    name: factory.declarations.BaseDeclaration | str = factory.Sequence(lambda n: f"Grossiste {n}")
    siren = factory.Sequence(lambda n: siren_for(n))


class InsurerFactory(OrganisationFactory):
    kind = OrganisationKind.INSURER
    name = "Unlock Plus Assurance"


class BrokerFactory(OrganisationFactory):
    kind = OrganisationKind.BROKER
    name = factory.Sequence(lambda n: f"Courtier {n}")


def _persist_password(user: User, create: bool, extracted: object, **kwargs: object) -> None:
    """Saves the password `set_password` hashed (the factory skips the post-generation save)."""
    if create:
        user.save(update_fields=["password"])


class UserFactory(ArrangedFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.test")
    email = factory.SelfAttribute("username")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.CREDIT_MANAGER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)
    # After `password`: post-generation declarations run in the order they were written.
    persist_password = factory.PostGeneration(_persist_password)


class MandateFactory(ArrangedFactory[Mandate]):
    class Meta:
        model = Mandate

    broker = factory.SubFactory(BrokerFactory)
    policyholder = factory.SubFactory(OrganisationFactory)
    starts_on = date(2026, 1, 1)


class BuyerFactory(ArrangedFactory[Buyer]):
    class Meta:
        model = Buyer

    siren = factory.Sequence(lambda n: siren_for(5000 + n))
    name = factory.Sequence(lambda n: f"Revendeur {n}")
    grade = 7


class ContractFactory(ArrangedFactory[Contract]):
    class Meta:
        model = Contract

    policyholder = factory.SubFactory(OrganisationFactory)
    number = factory.Sequence(lambda n: f"UP-T-{n:05d}")
    primary_insurer_name = "Allianz Trade"
    primary_policy_number = factory.Sequence(lambda n: f"AT-{n:06d}")
    status = ContractStatus.ACTIVE
    starts_on = date(2026, 1, 1)
    monthly_rate = Decimal("0.0012")


class GuaranteeFactory(ArrangedFactory[Guarantee]):
    """One period `[from, to)` of a top-up limit; `ends_before=None` is open-ended."""

    class Meta:
        model = Guarantee

    contract = factory.SubFactory(ContractFactory)
    policyholder = factory.SelfAttribute("contract.policyholder")
    buyer = factory.SubFactory(BuyerFactory)
    amount = Decimal("40000")
    primary_amount = Decimal("100000")
    period = factory.LazyFunction(lambda: DateRange(date(2026, 1, 1), None, "[)"))
    change = GuaranteeChange.GRANT


class GuaranteeRequestFactory(ArrangedFactory[GuaranteeRequest]):
    """An open request written directly; `tests.support.underwriting.submit` goes through the
    service and its rules."""

    class Meta:
        model = GuaranteeRequest

    contract = factory.SubFactory(ContractFactory)
    policyholder = factory.SelfAttribute("contract.policyholder")
    buyer = factory.SubFactory(BuyerFactory)
    exposure = Decimal("100000")
    primary_amount = Decimal("40000")
    requested_top_up = Decimal("40000")
    credit_term_days = 60
    reason = RequestReason.NEW_ORDER
    status = RequestStatus.OPEN
    submitted_by = factory.SubFactory(
        UserFactory, organisation=factory.SelfAttribute("..policyholder")
    )
    submitted_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda request: request.submitted_at + timedelta(hours=48))


class DecisionFactory(ArrangedFactory[Decision]):
    """Written in one INSERT: a database trigger refuses any update of a decision."""

    class Meta:
        model = Decision

    request = factory.SubFactory(GuaranteeRequestFactory, status=RequestStatus.APPROVED)
    policyholder = factory.SelfAttribute("request.policyholder")
    outcome = DecisionOutcome.APPROVED
    amount = factory.SelfAttribute("request.requested_top_up")
    decided_at = factory.LazyFunction(timezone.now)


class InvoiceFactory(ArrangedFactory[Invoice]):
    """An issued invoice written directly, numbered far above what a test run issues;
    `billing.services.invoice_issue` computes a real one."""

    class Meta:
        model = Invoice

    contract = factory.SubFactory(ContractFactory)
    policyholder = factory.SelfAttribute("contract.policyholder")
    kind = InvoiceKind.INVOICE
    month = date(2026, 10, 1)
    year = factory.SelfAttribute("month.year")
    sequence = factory.Sequence(lambda n: 900_000 + n)
    number = factory.LazyAttribute(lambda invoice: f"UP-{invoice.year}-{invoice.sequence:06d}")
    issued_at = factory.LazyFunction(timezone.now)
    issued_on = factory.LazyAttribute(lambda invoice: timezone.localdate(invoice.issued_at))
    due_on = factory.LazyAttribute(lambda invoice: invoice.issued_on + timedelta(days=30))
    insurer_name = "Unlock Plus Assurance"
    policyholder_name = factory.SelfAttribute("contract.policyholder.name")
    policyholder_siren = factory.SelfAttribute("contract.policyholder.siren")
    contract_number = factory.SelfAttribute("contract.number")
    premium_basis = factory.SelfAttribute("contract.premium_basis")
    monthly_rate = factory.SelfAttribute("contract.monthly_rate")
    days_in_month = factory.LazyAttribute(
        lambda invoice: calendar.monthrange(invoice.month.year, invoice.month.month)[1]
    )
    premium_total = Decimal("48.00")
    minimum_adjustment = Decimal("0.00")
    tax_amount = Decimal("0.00")
    total = factory.LazyAttribute(
        lambda invoice: invoice.premium_total + invoice.minimum_adjustment + invoice.tax_amount
    )


class InvoiceLineFactory(ArrangedFactory[InvoiceLine]):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    policyholder = factory.SelfAttribute("invoice.policyholder")
    position = factory.Sequence(lambda n: n + 1)
    buyer = factory.SubFactory(BuyerFactory)
    buyer_name = factory.SelfAttribute("buyer.name")
    buyer_identifier = factory.SelfAttribute("buyer.siren")
    base = Decimal("40000.00")
    days_in_force = factory.SelfAttribute("invoice.days_in_month")
    rate = factory.SelfAttribute("invoice.monthly_rate")
    premium = Decimal("48.00")

"""factory_boy factories. Children take their tenant from their parent, so a row can never
straddle two policyholders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from stdnum import luhn

from portal.models import Mandate, Organisation, OrganisationKind, Role, User
from underwriting.models import Buyer, Contract, ContractStatus

PASSWORD = "correct-horse-battery-staple"


def siren_for(n: int) -> str:
    base = f"{(70_000_000 + n * 104_729) % 100_000_000:08d}"
    return base + luhn.calc_check_digit(base)


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    kind = OrganisationKind.POLICYHOLDER
    name = factory.Sequence(lambda n: f"Grossiste {n}")
    siren = factory.Sequence(lambda n: siren_for(n))


class InsurerFactory(OrganisationFactory):
    kind = OrganisationKind.INSURER
    name = "Unlock Plus Assurance"


class BrokerFactory(OrganisationFactory):
    kind = OrganisationKind.BROKER
    name = factory.Sequence(lambda n: f"Courtier {n}")


class UserFactory(factory.django.DjangoModelFactory):
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

    @factory.post_generation
    def persist_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save(update_fields=["password"])


class MandateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mandate

    broker = factory.SubFactory(BrokerFactory)
    policyholder = factory.SubFactory(OrganisationFactory)
    starts_on = date(2026, 1, 1)


class BuyerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Buyer

    siren = factory.Sequence(lambda n: siren_for(5000 + n))
    name = factory.Sequence(lambda n: f"Revendeur {n}")
    grade = 7


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    policyholder = factory.SubFactory(OrganisationFactory)
    number = factory.Sequence(lambda n: f"UP-T-{n:05d}")
    primary_insurer_name = "Allianz Trade"
    primary_policy_number = factory.Sequence(lambda n: f"AT-{n:06d}")
    status = ContractStatus.ACTIVE
    starts_on = date(2026, 1, 1)
    monthly_rate = Decimal("0.0012")

"""The base world of every test: two policyholders (alice, bob), a broker mandated for alice
only, the insurer's staff, and an outsider policyholder (charlie) that owns nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from django_scopes import scopes_disabled

from portal.models import Organisation, Role, User
from tests.support.factories import (
    BrokerFactory,
    ContractFactory,
    InsurerFactory,
    MandateFactory,
    OrganisationFactory,
    UserFactory,
)
from underwriting.models import Contract


@dataclass
class Tenant:
    organisation: Organisation
    users: dict[str, User] = field(default_factory=dict)
    owned_contract: Contract | None = None  # None for the outsider, who owns nothing

    @property
    def contract(self) -> Contract:
        if self.owned_contract is None:
            raise LookupError(f"{self.organisation.name} owns no contract: it is the outsider")
        return self.owned_contract

    @property
    def credit_manager(self) -> User:
        return self.users[Role.CREDIT_MANAGER]

    @property
    def finance(self) -> User:
        return self.users[Role.FINANCE]


@dataclass
class World:
    insurer: Organisation
    staff: dict[str, User]
    alice: Tenant
    bob: Tenant
    charlie: Tenant
    broker: Organisation
    broker_user: User

    def tenant(self, name: str) -> Tenant:
        return getattr(self, name)


def make_tenant(name: str, arbiter: User, *, with_contract: bool = True) -> Tenant:
    organisation = OrganisationFactory.create(
        name=f"{name.title()} Distribution", dedicated_arbiter=arbiter
    )
    contract = ContractFactory.create(policyholder=organisation) if with_contract else None
    users: dict[str, User] = {
        role: UserFactory.create(
            username=f"{role}@{name}.test", organisation=organisation, role=role
        )
        for role in (Role.CREDIT_MANAGER, Role.FINANCE, Role.ORG_ADMIN)
    }
    return Tenant(organisation=organisation, users=users, owned_contract=contract)


def build_world() -> World:
    # Arrangement, not a tenant acting: the named bypass (the factories take it too).
    with scopes_disabled():
        return _build_world()


def _build_world() -> World:
    insurer = InsurerFactory.create()
    staff: dict[str, User] = {
        role: UserFactory.create(
            username=f"{role}@insurer.test",
            organisation=insurer,
            role=role,
            is_superuser=role == Role.ADMIN,
            is_staff=role == Role.ADMIN,
        )
        for role in (
            Role.ARBITER,
            Role.SENIOR_ARBITER,
            Role.CLAIMS_HANDLER,
            Role.FINANCE_OPS,
            Role.ADMIN,
        )
    }
    arbiter = staff[Role.ARBITER]
    alice = make_tenant("alice", arbiter)
    bob = make_tenant("bob", arbiter)
    charlie = make_tenant("charlie", arbiter, with_contract=False)
    broker = BrokerFactory.create(name="Courtier Test")
    broker_user = UserFactory.create(
        username="broker@broker.test", organisation=broker, role=Role.BROKER
    )
    MandateFactory.create(broker=broker, policyholder=alice.organisation)
    return World(
        insurer=insurer,
        staff=staff,
        alice=alice,
        bob=bob,
        charlie=charlie,
        broker=broker,
        broker_user=broker_user,
    )

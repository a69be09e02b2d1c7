"""The base world of every test: two policyholders (alice, bob), a broker mandated for alice
only, the insurer's staff, and an outsider policyholder (charlie) that owns nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from portal.models import Organisation, Role, User
from tests.browser import browser_page, chromium  # noqa: F401 - fixtures for browser tests
from tests.factories import (
    PASSWORD,
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
    contract: Contract
    users: dict[str, User] = field(default_factory=dict)

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


def make_tenant(name: str, arbiter: User) -> Tenant:
    organisation = OrganisationFactory(
        name=f"{name.title()} Distribution", dedicated_arbiter=arbiter
    )
    contract = ContractFactory(policyholder=organisation)
    users = {
        role: UserFactory(username=f"{role}@{name}.test", organisation=organisation, role=role)
        for role in (Role.CREDIT_MANAGER, Role.FINANCE, Role.ORG_ADMIN)
    }
    return Tenant(organisation=organisation, contract=contract, users=users)


@pytest.fixture
def world(db: None) -> World:
    insurer = InsurerFactory()
    staff = {
        role: UserFactory(
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
    alice, bob, charlie = (make_tenant(name, arbiter) for name in ("alice", "bob", "charlie"))
    broker = BrokerFactory(name="Courtier Test")
    broker_user = UserFactory(username="broker@broker.test", organisation=broker, role=Role.BROKER)
    MandateFactory(broker=broker, policyholder=alice.organisation)
    return World(
        insurer=insurer,
        staff=staff,
        alice=alice,
        bob=bob,
        charlie=charlie,
        broker=broker,
        broker_user=broker_user,
    )


@pytest.fixture(autouse=True)
def _plain_http(settings: Any) -> None:
    """The test client and the live server speak plain http: no redirect to https."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # Real hashing makes every user cost ~0.3 s; the tests are about who sees what.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


__all__ = ["PASSWORD", "World", "Tenant", "client_for"]

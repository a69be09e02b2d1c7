"""Tenant scopes for code called directly by a test, as the application would enter them.

A service is called inside the scope of the user who acts (`acting_as`), or of a policyholder
(`scope_of`). The suite connects as an ordinary role, so PostgreSQL's policies hold as well:
arranging rows (the factories, `build_world`, a contract's terms set by hand) goes through the
named bypass, `django_scopes.scopes_disabled()`, and so do the tests about the bypass itself."""

from __future__ import annotations

from contextlib import AbstractContextManager

from portal.models import User
from portal.tenancy import policyholder_scope_for, tenant_scope
from tests.support.world import Tenant


def acting_as(user: User) -> AbstractContextManager[None]:
    """The scope `user` gets from the middleware: insurer staff see every policyholder."""
    return tenant_scope(policyholder_scope_for(user))


def scope_of(tenant: Tenant) -> AbstractContextManager[None]:
    """One policyholder's own rows."""
    return tenant_scope([tenant.organisation.pk])


def insurer_scope() -> AbstractContextManager[None]:
    """The scope of insurer staff (finance ops issuing invoices, a check across policyholders):
    every policyholder, through the scope rather than the bypass."""
    return tenant_scope(None)

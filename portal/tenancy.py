"""Tenant scoping: derived once from the signed-in user, then applied to every query.

Insurer staff see every policyholder (scope value `None`), a policyholder's users see their own
organisation, a broker sees the policyholders it holds a current mandate for, anybody else sees
nothing (an empty list). Tenant-owned models use a fail-closed `ScopedManager`: without a scope a
query raises instead of returning everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from uuid import UUID

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django_scopes import scope
from django_scopes.state import get_scope, state

from portal.models import Mandate, OrganisationKind, User
from portal.timeutils import business_today

ScopeValue = list[UUID] | None


def policyholder_scope_for(user: Any) -> ScopeValue:
    """The policyholders `user` may see: `None` means all (insurer staff), `[]` means none."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    organisation = user.organisation
    if organisation is None:
        return []
    if organisation.kind == OrganisationKind.INSURER:
        return None
    if organisation.kind == OrganisationKind.POLICYHOLDER:
        return [organisation.pk]
    if organisation.kind == OrganisationKind.BROKER:
        today = business_today()
        return list(
            Mandate.objects.filter(broker=organisation, starts_on__lte=today)
            .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
            .values_list("policyholder_id", flat=True)
        )
    return []


def activate_scope_for(user: User | Any) -> None:
    """Enter the user's scope in the current context (used after DRF authenticated a token).

    The surrounding `TenantScopeMiddleware` restores the previous scope when the request ends.
    """
    current = dict(get_scope())
    current.update({"_enabled": True, "policyholder": policyholder_scope_for(user)})
    state.set(current)


@contextmanager
def tenant_scope(policyholder_ids: ScopeValue) -> Iterator[None]:
    """Enter an explicit scope, for tasks and commands working from ids."""
    with scope(policyholder=policyholder_ids):
        yield


def scope_including(policyholder_id: UUID) -> AbstractContextManager[None]:
    """The active scope plus a policyholder the actor has just gained (a broker's new prospect:
    the mandate exists from now on, but the request's scope was computed before it)."""
    current = get_scope().get("policyholder")
    if current is None:  # insurer staff see every policyholder already
        return tenant_scope(None)
    return tenant_scope([*current, policyholder_id])


class TenantScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with scope(policyholder=policyholder_scope_for(getattr(request, "user", None))):
            return self.get_response(request)

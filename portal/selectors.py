"""Reads for the portal. Organisations are not a ScopedManager model (sign-in needs them), so
every read of policyholders goes through `visible_policyholders`, which applies the active scope."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django_scopes import ScopeError
from django_scopes.state import get_scope

from portal import policy
from portal.models import Notification, Organisation, OrganisationKind, User


def active_policyholder_scope() -> list | None:
    """The policyholder ids of the active scope; raises if no scope is active (fail closed)."""
    current = get_scope()
    if not current.get("_enabled", True):
        return None
    if "policyholder" not in current:
        raise ScopeError("A scope on dimension(s) policyholder needs to be active for this query.")
    return current["policyholder"]


def visible_policyholders() -> QuerySet[Organisation]:
    queryset = Organisation.objects.filter(kind=OrganisationKind.POLICYHOLDER)
    ids = active_policyholder_scope()
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return queryset.select_related("dedicated_arbiter")


def policyholders_for_backoffice(*, user: User) -> QuerySet[Organisation]:
    """The arbiter's own policyholders first, then the others."""
    return visible_policyholders().order_by(
        Case(
            When(dedicated_arbiter=user, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        "name",
    )


def _notifications(user: User) -> QuerySet[Notification]:
    """The user's notifications about what its scope shows now: one about a policyholder
    outside it (a broker's ended mandate) is no longer shown."""
    notifications = Notification.objects.filter(recipient=user)
    ids = active_policyholder_scope()
    if ids is not None:
        notifications = notifications.filter(
            Q(policyholder__isnull=True) | Q(policyholder_id__in=ids)
        )
    return notifications


def notifications_for(*, user: User, limit: int = 50) -> QuerySet[Notification]:
    return _notifications(user)[:limit]


def notifications_listed(*, user: User) -> QuerySet[Notification]:
    """All the user's notifications in its scope, newest first, for the list page."""
    return _notifications(user).order_by("-created_at")


def unread_notification_count(*, user: User) -> int:
    """The header's badge: one COUNT on the recipient's unread rows in its scope."""
    return _notifications(user).filter(read_at__isnull=True).count()


def arbiters(*, organisation_id: UUID | None) -> QuerySet[User]:
    """The insurer's active arbiters, to whom requests are assigned."""
    if organisation_id is None:
        return User.objects.none()
    return User.objects.filter(
        organisation_id=organisation_id,
        role__in=policy.ASSIGNABLE_ARBITERS,
        is_active=True,
    ).order_by("last_name", "first_name")

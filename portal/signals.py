"""A password change or a deactivation revokes every API token of the user, whichever path
saved it (the password change and reset views, the admin, `set_password()` then `save()`).
The same detection records the security events of a password change, a (de)activation and a
role change; a deactivation also ends the user's browser sessions."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from portal.models import User
from portal.security import SecurityEvent, security_event_record
from portal.security_receivers import ACTOR_ATTR, REQUEST_ATTR
from portal.services import api_tokens_revoke_all
from portal.sessions import sessions_end_for_user

WATCHED_FIELDS = frozenset({"password", "is_active", "role"})


@receiver(pre_save, sender=User, dispatch_uid="portal.user_credentials_before_save")
def _remember_credential_change(
    sender: type[User], instance: User, update_fields: frozenset[str] | None, **kwargs: Any
) -> None:
    instance._revoke_api_tokens = False  # type: ignore[attr-defined]
    instance._security_before = None  # type: ignore[attr-defined]
    if instance.pk is None or (update_fields is not None and not WATCHED_FIELDS & update_fields):
        return
    before = (
        User._base_manager.filter(pk=instance.pk).values("password", "is_active", "role").first()
    )
    if before is None:
        return
    instance._security_before = before  # type: ignore[attr-defined]
    instance._revoke_api_tokens = (  # type: ignore[attr-defined]
        before["password"] != instance.password or (before["is_active"] and not instance.is_active)
    )


@receiver(post_save, sender=User, dispatch_uid="portal.user_credentials_after_save")
def _revoke_tokens_on_credential_change(
    sender: type[User], instance: User, created: bool, **kwargs: Any
) -> None:
    if getattr(instance, "_revoke_api_tokens", False):
        api_tokens_revoke_all(user_id=instance.pk)
        instance._revoke_api_tokens = False  # type: ignore[attr-defined]
    before = getattr(instance, "_security_before", None)
    instance._security_before = None  # type: ignore[attr-defined]
    if not created and before is not None:
        _record_account_changes(instance, before)


def _record_account_changes(user: User, before: dict[str, Any]) -> None:
    """Who made the change is known when the admin (or a service) set it on the instance;
    otherwise the row says nothing of an actor."""
    actor = getattr(user, ACTOR_ATTR, None)
    request = getattr(user, REQUEST_ATTR, None)

    def record(action: SecurityEvent, data: dict[str, Any] | None = None) -> None:
        event = security_event_record(
            action=action, user=user, actor=actor, request=request, data=data
        )
        if actor is None and event.actor_id is not None:
            # Not known to be the user themselves (a shell, a command): no actor.
            type(event).objects.filter(pk=event.pk).update(actor=None)

    # A first password (an account created without one) is not a change.
    if before["password"] and before["password"] != user.password:
        record(SecurityEvent.PASSWORD_CHANGED)
    if before["is_active"] and not user.is_active:
        record(SecurityEvent.USER_DEACTIVATED)
        sessions_end_for_user(user_id=user.pk)
    elif not before["is_active"] and user.is_active:
        record(SecurityEvent.USER_ACTIVATED)
    if before["role"] != user.role:
        record(SecurityEvent.ROLE_CHANGED, {"before": before["role"], "after": user.role})

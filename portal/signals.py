"""A password change or a deactivation revokes every API token of the user, whichever path
saved it (the password change and reset views, the admin, `set_password()` then `save()`)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from portal.models import User
from portal.services import api_tokens_revoke_all

WATCHED_FIELDS = frozenset({"password", "is_active"})


@receiver(pre_save, sender=User, dispatch_uid="portal.user_credentials_before_save")
def _remember_credential_change(
    sender: type[User], instance: User, update_fields: frozenset[str] | None, **kwargs: Any
) -> None:
    instance._revoke_api_tokens = False  # type: ignore[attr-defined]
    if instance.pk is None or (update_fields is not None and not WATCHED_FIELDS & update_fields):
        return
    before = User._base_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
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

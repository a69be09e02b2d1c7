"""Security events that happen inside Django or a library rather than in one of our services:
sign-in, its failures and lockouts, sign-out, and broker mandates changed from wherever they are
saved (the Django admin names who did it; elsewhere the actor may be unknown)."""

from __future__ import annotations

from datetime import date
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from portal.models import AuditEvent, Mandate, User
from portal.security import SecurityEvent, security_event_record
from portal.sessions import session_forget, session_track

# A username as typed can be anything: what the audit keeps of it is bounded.
USERNAME_MAX = 150
# Set on an instance by whoever knows who is saving it (the admin's save_model/delete_model).
ACTOR_ATTR = "_security_actor"
REQUEST_ATTR = "_security_request"


def mark_actor(instance: Any, request: HttpRequest) -> None:
    """Say who is saving or deleting `instance` (the admin knows: `request.user`), for the
    security events its signals record. Carried by the instance: no thread-local."""
    setattr(instance, ACTOR_ATTR, request.user if request.user.is_authenticated else None)
    setattr(instance, REQUEST_ATTR, request)


def _tried_username(credentials: dict[str, Any]) -> str:
    value = credentials.get(User.USERNAME_FIELD) or credentials.get("username") or ""
    return str(value)[:USERNAME_MAX]


@receiver(user_logged_in, dispatch_uid="portal.security.signed_in")
def _signed_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        session_track(request=request, user=user)
    security_event_record(action=SecurityEvent.SIGNED_IN, user=user, request=request)


@receiver(user_logged_out, dispatch_uid="portal.security.signed_out")
def _signed_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        session_forget(session_key=request.session.session_key)
    if user is not None and user.is_authenticated:
        security_event_record(action=SecurityEvent.SIGNED_OUT, user=user, request=request)


@receiver(user_login_failed, dispatch_uid="portal.security.sign_in_failed")
def _sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """The username tried (never the password, which Django has already masked anyway); the
    account it names when there is one."""
    username = _tried_username(credentials)
    user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
    event = security_event_record(
        action=SecurityEvent.SIGN_IN_FAILED, user=user, request=request, data={"username": username}
    )
    _no_actor(event)


def _no_actor(event: AuditEvent) -> None:
    """Whoever failed to sign in is unknown: the row names the account, not as its actor
    (`security_event_record` makes the user its own actor by default)."""
    if event.actor_id is not None:
        AuditEvent.objects.filter(pk=event.pk).update(actor=None)
        event.actor = None


@receiver(user_locked_out, dispatch_uid="portal.security.locked_out")
def _locked_out(
    sender: Any, request: HttpRequest | None, username: str, ip_address: str, **kwargs: Any
) -> None:
    name = str(username or "")[:USERNAME_MAX]
    user = User._default_manager.filter(**{User.USERNAME_FIELD: name}).first()
    event = security_event_record(
        action=SecurityEvent.SIGN_IN_LOCKED_OUT, user=user, request=request, data={"username": name}
    )
    _no_actor(event)


# --- broker mandates ------------------------------------------------------------------------


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def _mandate_data(mandate: Mandate) -> dict[str, Any]:
    return {
        "mandate": mandate.pk,
        "broker": str(mandate.broker),
        "broker_id": str(mandate.broker_id),
        "policyholder": str(mandate.policyholder),
        "policyholder_id": str(mandate.policyholder_id),
        "starts_on": _day(mandate.starts_on),
        "ends_on": _day(mandate.ends_on),
    }


def _mandate_record(mandate: Mandate, change: str, extra: dict[str, Any]) -> None:
    security_event_record(
        action=SecurityEvent.MANDATE_CHANGED,
        user=None,
        actor=getattr(mandate, ACTOR_ATTR, None),
        request=getattr(mandate, REQUEST_ATTR, None),
        data={"change": change, **_mandate_data(mandate), **extra},
    )


@receiver(pre_save, sender=Mandate, dispatch_uid="portal.security.mandate_before")
def _mandate_before(sender: type[Mandate], instance: Mandate, **kwargs: Any) -> None:
    before = None
    if instance.pk is not None:
        before = Mandate.objects.filter(pk=instance.pk).values("starts_on", "ends_on").first()
    instance._security_before = before  # type: ignore[attr-defined]


@receiver(post_save, sender=Mandate, dispatch_uid="portal.security.mandate_after")
def _mandate_after(sender: type[Mandate], instance: Mandate, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_security_before", None)
    if created or before is None:
        _mandate_record(instance, "created", {})
        return
    if before["starts_on"] == instance.starts_on and before["ends_on"] == instance.ends_on:
        return
    _mandate_record(
        instance,
        "dates",
        {
            "before": {
                "starts_on": _day(before["starts_on"]),
                "ends_on": _day(before["ends_on"]),
            }
        },
    )


@receiver(post_delete, sender=Mandate, dispatch_uid="portal.security.mandate_deleted")
def _mandate_deleted(sender: type[Mandate], instance: Mandate, **kwargs: Any) -> None:
    _mandate_record(instance, "deleted", {})

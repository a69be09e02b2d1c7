"""API tokens: issue one per sign-in (device), revoke one, revoke all."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from knox.models import AuthToken

from portal.models import User
from portal.security import SecurityEvent, security_event_record


def api_token_issue(
    *, user: User, request: HttpRequest | None = None
) -> tuple[str, datetime | None]:
    """A new token for `user`: the key (shown once, stored hashed) and its expiry."""
    instance, key = AuthToken.objects.create(user=user)
    security_event_record(
        action=SecurityEvent.TOKEN_CREATED,
        user=user,
        request=request,
        data={
            "token": instance.token_key,
            "expiry": instance.expiry.isoformat() if instance.expiry else "",
        },
    )
    return key, instance.expiry


def api_token_revoke(*, user: User, token_key: str, request: HttpRequest | None = None) -> int:
    """Revoke `user`'s token(s) starting with `token_key`; the number revoked (0: none of the
    user's own)."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    if deleted:
        security_event_record(
            action=SecurityEvent.TOKEN_REVOKED,
            user=user,
            request=request,
            data={"token": token_key},
        )
    return deleted


def api_tokens_revoke_all(
    *,
    user_id: int,
    request: HttpRequest | None = None,
    actor: User | None = None,
    reason: str = "",
) -> int:
    """Revoke every token of the user; the number revoked. Recorded when asked for (a request
    or an actor), or when it revoked any (a password change, a deactivation)."""
    deleted, _ = AuthToken.objects.filter(user_id=user_id).delete()
    if deleted or request is not None or actor is not None:
        user = User.objects.filter(pk=user_id).first()
        security_event_record(
            action=SecurityEvent.TOKENS_REVOKED,
            user=user,
            actor=actor,
            request=request,
            reason=reason,
            data={"revoked": deleted},
        )
    return deleted

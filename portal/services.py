"""API tokens: issue one per sign-in (device), revoke one, revoke all."""

from __future__ import annotations

from datetime import datetime

from knox.models import AuthToken

from portal.models import User


def api_token_issue(*, user: User) -> tuple[str, datetime | None]:
    """A new token for `user`: the key (shown once, stored hashed) and its expiry."""
    instance, key = AuthToken.objects.create(user=user)
    return key, instance.expiry


def api_token_revoke(*, user: User, token_key: str) -> int:
    """Revoke `user`'s token(s) starting with `token_key`; the number revoked (0: none of the
    user's own)."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return deleted


def api_tokens_revoke_all(*, user_id: int) -> int:
    """Revoke every token of the user; the number revoked."""
    deleted, _ = AuthToken.objects.filter(user_id=user_id).delete()
    return deleted

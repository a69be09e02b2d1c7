"""API token authentication: django-rest-knox tokens (hashed, expiring, one per device)."""

from __future__ import annotations

import binascii
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework import exceptions

from portal import sql
from portal.models import Organisation, User


def _columns(model: type[Model], alias: str) -> tuple[list[str], list[str]]:
    """The model's concrete columns selected under `alias`, and their attribute names."""
    fields = model._meta.concrete_fields
    return [f'{alias}."{field.column}"' for field in fields], [field.attname for field in fields]


TOKEN_TABLES = (
    f"{AuthToken._meta.db_table} t"
    f" JOIN {User._meta.db_table} u ON u.id = t.user_id"
    f" LEFT JOIN {Organisation._meta.db_table} o ON o.id = u.organisation_id"
)


@cache
def _token_columns() -> tuple[str, list[str], list[str], list[str]]:
    """The columns of a token, its user and the user's organisation (aliases t, u, o), read
    from the models once, and their attribute names."""
    token_columns, token_names = _columns(AuthToken, "t")
    user_columns, user_names = _columns(User, "u")
    organisation_columns, organisation_names = _columns(Organisation, "o")
    columns = ", ".join(token_columns + user_columns + organisation_columns)
    return columns, token_names, user_names, organisation_names


def token_statement(*, also_select: str = "", also_join: str = "") -> str:
    """One statement that finds a token by its digest (knox's primary key, `%(digest)s`) with
    its user and the organisation the tenant scope needs; a caller may read more in the same
    statement (`also_select`, `also_join`, after the token's columns)."""
    return (
        f"SELECT {_token_columns()[0]}{also_select}"  # noqa: S608
        f" FROM {TOKEN_TABLES}{also_join} WHERE t.digest = %(digest)s"
    )


def token_width() -> int:
    """How many columns of a `token_statement` row are the token's, its user's and its
    organisation's."""
    _, token_names, user_names, organisation_names = _token_columns()
    return len(token_names) + len(user_names) + len(organisation_names)


def token_from_row(row: tuple[Any, ...]) -> tuple[User, AuthToken]:
    """The token and its user (organisation loaded) from the first columns of `row`."""
    _, token_names, user_names, organisation_names = _token_columns()
    database = connection.alias
    ends = (len(token_names), len(token_names) + len(user_names), token_width())
    token = AuthToken.from_db(database, token_names, row[: ends[0]])
    user = User.from_db(database, user_names, row[ends[0] : ends[1]])
    organisation = (
        Organisation.from_db(database, organisation_names, row[ends[1] : ends[2]])
        if user.organisation_id is not None
        else None
    )
    User._meta.get_field("organisation").set_cached_value(user, organisation)
    AuthToken._meta.get_field("user").set_cached_value(token, user)
    return user, token


def token_user(digest: str) -> tuple[User, AuthToken] | None:
    """The token whose digest is `digest`, and its user with the organisation loaded.

    None of the three tables is tenant-owned or under a policy, so the row-level-security
    setting is left as it is: following the scope of a request that is not authenticated yet
    would cost a round trip here, and another one back to the token's scope before the view's
    first query, on every API call."""
    row = sql.fetch_one(token_statement(), {"digest": digest}, tenant_rows=False)
    return None if row is None else token_from_row(row)


def token_digest(request: Any) -> str | None:
    """The digest of the `Authorization: Token …` header, as knox reads the header; None when
    there is no such header (another scheme, or none). A malformed one raises."""
    parts = auth.get_authorization_header(request).split()
    if not parts or parts[0].lower() != knox_settings.AUTH_HEADER_PREFIX.lower().encode():
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed(_("Invalid token header."))
    try:
        return str(hash_token(parts[1].decode("utf-8")))
    except (UnicodeDecodeError, TypeError, binascii.Error):
        raise exceptions.AuthenticationFailed(_("Invalid token.")) from None


def token_check(user: User, auth_token: AuthToken) -> None:
    """Refuse an expired token (deleting it) or an inactive user, as knox does."""
    if auth_token.expiry is not None and auth_token.expiry <= timezone.now():
        auth_token.delete()
        raise exceptions.AuthenticationFailed(_("Invalid token."))
    if not user.is_active:
        raise exceptions.AuthenticationFailed(_("User inactive or deleted."))


class TokenAuthentication(auth.TokenAuthentication):
    """Knox's token authentication in one indexed statement: the token by its digest (knox's
    primary key) with the user and the organisation the tenant scope needs. An expired token is
    deleted and refused; an inactive user is refused."""

    def authenticate_credentials(self, token: bytes) -> tuple[User, AuthToken]:
        try:
            found = token_user(hash_token(token.decode("utf-8")))
        except (UnicodeDecodeError, TypeError, binascii.Error):
            found = None
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token_check(*found)
        return found


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of the class above (`Authorization: Token …`)."""

    target_class = "portal.authentication.TokenAuthentication"
    name = "tokenAuth"

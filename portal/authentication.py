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
from rest_framework import exceptions

from portal import sql
from portal.models import Organisation, User


def _columns(model: type[Model], alias: str) -> tuple[list[str], list[str]]:
    """The model's concrete columns selected under `alias`, and their attribute names."""
    fields = model._meta.concrete_fields
    return [f'{alias}."{field.column}"' for field in fields], [field.attname for field in fields]


@cache
def _lookup() -> tuple[str, list[str], list[str], list[str]]:
    """One statement finds a token by its digest (the table's primary key) with its user and
    the user's organisation; built once from the models, so it follows their columns."""
    token_columns, token_names = _columns(AuthToken, "t")
    user_columns, user_names = _columns(User, "u")
    organisation_columns, organisation_names = _columns(Organisation, "o")
    statement = (
        f"SELECT {', '.join(token_columns + user_columns + organisation_columns)}"  # noqa: S608
        f" FROM {AuthToken._meta.db_table} t"
        f" JOIN {User._meta.db_table} u ON u.id = t.user_id"
        f" LEFT JOIN {Organisation._meta.db_table} o ON o.id = u.organisation_id"
        " WHERE t.digest = %s"
    )
    return statement, token_names, user_names, organisation_names


def _token_row(digest: str) -> tuple[Any, ...] | None:
    """The row of `_lookup()`. None of its three tables is tenant-owned or under a policy, so
    the row-level-security setting is left as it is: following the scope of a request that is
    not authenticated yet would cost a round trip here, and another one back to the token's
    scope before the view's first query, on every API call."""
    row: tuple[Any, ...] | None = sql.fetch_one(_lookup()[0], [digest], tenant_rows=False)
    return row


def token_user(digest: str) -> tuple[User, AuthToken] | None:
    """The token whose digest is `digest`, and its user with the organisation loaded."""
    row = _token_row(digest)
    if row is None:
        return None
    _, token_names, user_names, organisation_names = _lookup()
    database = connection.alias
    ends = (len(token_names), len(token_names) + len(user_names))
    token = AuthToken.from_db(database, token_names, row[: ends[0]])
    user = User.from_db(database, user_names, row[ends[0] : ends[1]])
    organisation_values = row[ends[1] :]
    organisation = (
        Organisation.from_db(database, organisation_names, organisation_values)
        if user.organisation_id is not None
        else None
    )
    User._meta.get_field("organisation").set_cached_value(user, organisation)
    AuthToken._meta.get_field("user").set_cached_value(token, user)
    return user, token


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
        user, auth_token = found
        if auth_token.expiry is not None and auth_token.expiry <= timezone.now():
            auth_token.delete()
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, auth_token


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of the class above (`Authorization: Token …`)."""

    target_class = "portal.authentication.TokenAuthentication"
    name = "tokenAuth"

"""API token authentication: django-rest-knox tokens (hashed, expiring, one per device)."""

from __future__ import annotations

import binascii
from hmac import compare_digest

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions

from portal.models import User


class TokenAuthentication(auth.TokenAuthentication):
    """Knox's token authentication, loading the user's organisation in the same query (the
    tenant scope needs it on every API call). An expired token is deleted and refused; an
    inactive user is refused."""

    def authenticate_credentials(self, token: bytes) -> tuple[User, AuthToken]:
        invalid = exceptions.AuthenticationFailed(_("Invalid token."))
        try:
            key = token.decode("utf-8")
            digest = hash_token(key)
        except (UnicodeDecodeError, TypeError, binascii.Error):
            raise invalid from None
        candidates = AuthToken.objects.filter(
            token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH]
        ).select_related("user__organisation")
        for auth_token in candidates:
            if not compare_digest(digest, auth_token.digest):
                continue
            if auth_token.expiry is not None and auth_token.expiry <= timezone.now():
                auth_token.delete()
                raise invalid
            if not auth_token.user.is_active:
                raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
            return auth_token.user, auth_token
        raise invalid


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of the class above (`Authorization: Token …`)."""

    target_class = "portal.authentication.TokenAuthentication"
    name = "tokenAuth"

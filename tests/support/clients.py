"""Signed-in test clients: a session for the pages, a token for the API."""

from __future__ import annotations

from django.test import Client
from knox.models import AuthToken

from portal.models import User
from tests.support.factories import PASSWORD

__all__ = ["PASSWORD", "client_for", "token_client"]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def token_client(user: User) -> Client:
    _, key = AuthToken.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {key}")

"""Typed access to what the middleware puts on a page request."""

from __future__ import annotations

from django.http import HttpRequest

from portal.models import User


def page_user(request: HttpRequest) -> User:
    """The signed-in user of a page behind `login_required` or `page_requires`."""
    user = request.user
    assert isinstance(user, User), "login_required runs before any view code"
    return user


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request (set by django-htmx's middleware)."""
    return bool(getattr(request, "htmx", False))

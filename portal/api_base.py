"""Base classes for every API view: the tenant scope is entered right after DRF authenticates.

Subclasses build their queryset in `scoped_queryset()` from a ScopedManager model or a selector
that applies the active scope; overriding `get_queryset` is refused at class creation, so the
scope cannot be skipped by accident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django_scopes import scopes_disabled
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.views import APIView

from portal.models import User
from portal.tenancy import activate_scope_for


def api_user(request: Request) -> User:
    """The authenticated user of an API call (every endpoint requires authentication)."""
    user = request.user
    assert isinstance(user, User), "IsAuthenticated runs before any view code"
    return user


if TYPE_CHECKING:
    # The mixin only goes before an APIView: type it as one so `super().initial` is known.
    _APIViewBase = APIView
else:
    _APIViewBase = object


class TenantScopedAPIMixin(_APIViewBase):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        activate_scope_for(request.user)


class ScopedGenericViewSet(TenantScopedAPIMixin, viewsets.GenericViewSet):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} overrides get_queryset: implement scoped_queryset() instead."
            )

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            # Schema generation has no user: it only reads the model, so hand it no rows.
            with scopes_disabled():
                return self.scoped_queryset().none()
        return self.scoped_queryset()

    def scoped_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError


class ScopedReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedGenericViewSet):
    pass


def api_require(allowed: bool) -> None:
    """The policy's answer at the API's edge: a user who may not act sees nothing to act on
    (404, as the pages answer), not a 403 that would confirm what exists."""
    if not allowed:
        raise NotFound

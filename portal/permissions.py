"""Who may open which page. A page a user may not open answers 404, like a missing object."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from portal.models import OrganisationKind, Role, User

INSURER_BACKOFFICE_ROLES = {Role.ARBITER, Role.SENIOR_ARBITER, Role.CLAIMS_HANDLER, Role.ADMIN}


def user_has(user: User, *, kinds: Iterable[str] = (), roles: Iterable[str] = ()) -> bool:
    organisation = getattr(user, "organisation", None)
    if organisation is None:
        return False
    kinds, roles = set(kinds), set(roles)
    if kinds and organisation.kind not in kinds:
        return False
    return not roles or user.role in roles


def allowed(
    *, kinds: Iterable[str] = (), roles: Iterable[str] = ()
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    kinds, roles = tuple(kinds), tuple(roles)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not user_has(request.user, kinds=kinds, roles=roles):  # type: ignore[arg-type]
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def role_home(user: User) -> str:
    """The URL name of the home page of `user`'s role."""
    organisation = user.organisation
    if organisation is None:
        return "no_organisation"
    if organisation.kind == OrganisationKind.POLICYHOLDER:
        return "dashboard"
    if organisation.kind == OrganisationKind.BROKER:
        return "broker_clients"
    if user.role == Role.FINANCE_OPS:
        return "finance_home"
    return "backoffice"

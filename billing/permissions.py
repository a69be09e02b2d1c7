"""Who sees invoices: the policyholder's finance users and org admins, its mandated broker
(the tenant scope decides which policyholders), and the insurer's finance ops and admins.
Anybody else gets 404, like a missing object."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from portal.models import OrganisationKind, Role

INVOICE_ROLES_BY_KIND: dict[str, set[str]] = {
    OrganisationKind.POLICYHOLDER: {Role.FINANCE, Role.ORG_ADMIN},
    OrganisationKind.BROKER: {Role.BROKER},
    OrganisationKind.INSURER: {Role.FINANCE_OPS, Role.ADMIN},
}


def sees_invoices(user: Any) -> bool:
    organisation = getattr(user, "organisation", None)
    if organisation is None or not user.is_authenticated:
        return False
    return user.role in INVOICE_ROLES_BY_KIND.get(organisation.kind, set())


def is_finance_ops(user: Any) -> bool:
    organisation = getattr(user, "organisation", None)
    return (
        organisation is not None
        and organisation.kind == OrganisationKind.INSURER
        and user.role in INVOICE_ROLES_BY_KIND[OrganisationKind.INSURER]
    )


def _gate(check: Callable[[Any], bool]) -> Callable[[Callable[..., HttpResponse]], Any]:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


invoice_viewers_only = _gate(sees_invoices)
finance_ops_only = _gate(is_finance_ops)

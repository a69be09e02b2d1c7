from django.contrib.admin import AdminSite
from django.http import HttpRequest

from portal.models import User


def restrict_admin_to_insurer_superusers(site: AdminSite) -> None:
    """Django admin is for the insurer's superusers only, whatever their staff flag says."""

    def has_permission(request: HttpRequest) -> bool:
        user = request.user
        return bool(
            isinstance(user, User)  # an AnonymousUser is never active
            and user.is_active
            and user.is_superuser
            and user.organisation is not None
            and user.organisation.is_insurer
        )

    # why: the method is replaced on this one instance on purpose (Django's default site stays
    # the AdminSite class); mypy refuses any assignment to a method.
    site.has_permission = has_permission  # type: ignore[method-assign]

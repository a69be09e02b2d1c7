from django.contrib.admin import AdminSite
from django.http import HttpRequest


def restrict_admin_to_insurer_superusers(site: AdminSite) -> None:
    """Django admin is for the insurer's superusers only, whatever their staff flag says."""

    def has_permission(request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active
            and user.is_superuser
            and getattr(user, "organisation", None) is not None
            and user.organisation.is_insurer
        )

    site.has_permission = has_permission  # type: ignore[method-assign]

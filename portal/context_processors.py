from typing import Any

from django.http import HttpRequest

from portal.policy import May, role_home


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The home page and `may`, the policy's answers, for the header and every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "home_url_name": role_home(user),
        "current_organisation": user.organisation,
        "may": May(user),
    }

from typing import Any

from django.http import HttpRequest

from portal.permissions import role_home


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"home_url_name": role_home(user), "current_organisation": user.organisation}

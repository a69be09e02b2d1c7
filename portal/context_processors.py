from functools import cache
from typing import Any

from django.http import HttpRequest

from portal.policy import May, role_home
from portal.selectors import unread_notification_count


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The home page and `may`, the policy's answers, for the header and every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def unread_notifications() -> int:
        # Called by the template that shows the badge, so htmx partials count nothing.
        return unread_notification_count(user=user)

    @cache
    def unread_threads() -> int:
        # The "Messages" link's badge: threads with a message this user has not read.
        from conversations.selectors import unread_badge

        return unread_badge(user)

    return {
        "home_url_name": role_home(user),
        "current_organisation": user.organisation,
        "may": May(user),
        "unread_notifications": unread_notifications,
        "unread_threads": unread_threads,
    }

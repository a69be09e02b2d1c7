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

    @cache
    def uses_api_tokens() -> bool:
        # The account menu offers the API (docs, tokens) to those who hold a live token.
        from django.db.models import Q
        from django.utils import timezone
        from knox.models import AuthToken

        live = Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
        return AuthToken.objects.filter(live, user=user).exists()

    return {
        "home_url_name": role_home(user),
        "current_organisation": user.organisation,
        "may": May(user),
        "unread_notifications": unread_notifications,
        "unread_threads": unread_threads,
        "uses_api_tokens": uses_api_tokens,
    }

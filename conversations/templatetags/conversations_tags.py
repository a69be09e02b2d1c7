"""The conversation pages' template helpers: a waiting time in words, the threads about an
object (shown on that object's page)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from conversations import selectors
from portal import policy

register = template.Library()


@register.filter
def since_label(waiting: timedelta | None) -> str:
    """ "il y a 3 h": how long the client has waited, in the largest whole unit."""
    if waiting is None:
        return ""
    minutes = max(int(waiting.total_seconds() // 60), 0)
    if minutes < 1:
        return _("à l'instant")
    if minutes < 60:
        return _("il y a %(count)s min") % {"count": minutes}
    hours = minutes // 60
    if hours < 48:
        return _("il y a %(count)s h") % {"count": hours}
    return _("il y a %(count)s j") % {"count": hours // 24}


@register.simple_tag
def linked_threads(user: Any, policyholder: Any = None, **link: Any) -> dict[str, Any]:
    """The threads this user may open about the object, and (for the client's side) the link
    that asks the arbiter a question about it."""
    if not getattr(user, "is_authenticated", False) or not policy.can_use_conversations(user):
        return {"visible": False}
    link = {name: value for name, value in link.items() if value not in (None, "")}
    if not link:
        return {"visible": False}
    threads = list(selectors.threads_linked(user, **link)[:10])
    ask_url = ""
    if not policy.is_insurer_staff(user):
        query = {name: str(value.pk) for name, value in link.items()}
        if policyholder is not None:
            query["policyholder"] = str(getattr(policyholder, "pk", policyholder))
        ask_url = f"{reverse('thread_new')}?{urlencode(query)}"
    return {"visible": True, "threads": threads, "ask_url": ask_url}

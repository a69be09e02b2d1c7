"""A browser's User-Agent in plain words ("Firefox sur Windows"), for the sessions page and the
security audit. Recognises the browsers and systems our users have; anything else is named by
what is known of it, never shown raw."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

# Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari", Android "Linux".
_BROWSERS: tuple[tuple[str, str], ...] = (
    (r"Edg(e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"SamsungBrowser/", "Samsung Internet"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"),
    (r"Safari/", "Safari"),
    (r"python-requests|curl/|HTTPie|Wget", "Script"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    (r"iPhone", "iPhone"),
    (r"iPad", "iPad"),
    (r"Android", "Android"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"CrOS", "ChromeOS"),
    (r"Linux", "Linux"),
)


def _first(patterns: tuple[tuple[str, str], ...], agent: str) -> str:
    for pattern, name in patterns:
        if re.search(pattern, agent):
            return name
    return ""


def device_label(user_agent: str) -> str:
    """`user_agent` as a person would name the device: "Chrome sur macOS"."""
    agent = user_agent or ""
    if not agent.strip():
        return _("Appareil inconnu")
    browser = _first(_BROWSERS, agent)
    system = _first(_SYSTEMS, agent)
    if browser and system:
        return _("%(browser)s sur %(system)s") % {"browser": browser, "system": system}
    if browser or system:
        return browser or system
    return _("Autre navigateur")

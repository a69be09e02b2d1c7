"""Error pages (400, 403, 404, 500) in the platform's layout and language: the menu for a
signed-in user, a way home and a way back. Paths under /api/ keep the API's JSON error body
(`{code, detail}`, as `portal.api_errors` gives it). The sign-in lockout's 429
(`registration/locked_out.html`) and the 413 (`portal.middleware`) extend the same layout.

The 500 page is rendered without the request's context processors (they ask the database, which
may be what failed) and without a session or user lookup: the layout, the language already
chosen for the request, and static links only."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.templatetags.static import static
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

API_PREFIX = "/api/"


def _api_error(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def _back_url(request: HttpRequest) -> str | None:
    """The page the user came from, when it is one of ours and not this very page."""
    referer = request.META.get("HTTP_REFERER", "")
    try:
        host = request.get_host()
    except DisallowedHost:  # the very reason for a 400
        return None
    if not referer or not url_has_allowed_host_and_scheme(
        referer, allowed_hosts={host}, require_https=request.is_secure()
    ):
        return None
    if referer.endswith(request.get_full_path()):
        return None
    return referer


def _page(request: HttpRequest, template: str, status: int, **context: Any) -> HttpResponse:
    return render(request, template, {"back_url": _back_url(request), **context}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return _api_error("invalid", _("Requête invalide."), 400)
    return _page(request, "400.html", 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return _api_error("permission_denied", _("Vous n'avez pas le droit de faire cela."), 403)
    return _page(request, "403.html", 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return _api_error("not_found", _("Introuvable."), 404)
    return _page(request, "404.html", 404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent with an expired or missing CSRF token (often: a page left open too long)."""
    return _page(request, "403_csrf.html", 403)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says: send them to the SVG."""
    return redirect(static("favicon.svg"))


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return _api_error("server_error", _("Erreur interne du serveur."), 500)
    # No RequestContext: no context processor, no user, no session, no query.
    body = get_template("500.html").render({"bare_layout": True, "back_url": _back_url(request)})
    return HttpResponse(body, status=500)

"""The two-factor gate: a signed-in user who owes a code gives it, and a user who must enrol
enrols, before any other page or session-authenticated API call.

Runs after django-otp's `OTPMiddleware` (which tells whether the session was verified). Pages get
a redirect that keeps `next`; htmx requests a client-side redirect; API calls a 403 in the API's
error body. Token-authenticated API calls pass: a token is issued only against a code.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from portal import two_factor
from portal.errors import Forbidden

# Paths an unverified user may still reach: signing in or out, the two-factor pages themselves,
# password reset, the language switch, static files, the health check, and the API's token
# endpoints (they check their own credentials).
EXEMPT_PREFIXES: tuple[str, ...] = (
    "/login/",
    "/logout/",
    "/account/two-factor/",
    "/password-reset/",
    "/reset/",
    "/i18n/",
    "/healthz",
    "/api/v1/auth/",
    settings.STATIC_URL or "/static/",
)


def _is_exempt(path: str) -> bool:
    return path.startswith(EXEMPT_PREFIXES)


def _destination(request: HttpRequest, url_name: str) -> str:
    url = reverse(url_name)
    # Only a page read can be resumed after the code: a form post is not replayed.
    if request.method in ("GET", "HEAD") and not request.path.startswith("/api/"):
        return f"{url}?{urlencode({'next': request.get_full_path()})}"
    return url


class TwoFactorGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        blocked = self._blocked(request)
        return blocked if blocked is not None else self.get_response(request)

    def _blocked(self, request: HttpRequest) -> HttpResponse | None:
        if _is_exempt(request.path):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.path.startswith("/api/") and "HTTP_AUTHORIZATION" in request.META:
            return None  # DRF authenticates the token first; the session is not used
        owed = two_factor.step_owed(request)
        if owed is None:
            return None
        url_name = "two_factor_verify" if owed == two_factor.CODE else "two_factor"
        if request.path.startswith("/api/"):
            if owed == two_factor.CODE:
                error = Forbidden(
                    _("Donnez votre code de double authentification avant d'utiliser l'API."),
                    code="two_factor_code_required",
                )
            else:
                error = Forbidden(
                    _("Activez la double authentification avant d'utiliser l'API."),
                    code="two_factor_enrolment_required",
                )
            body = {**error.as_dict(), "location": reverse(url_name)}
            return JsonResponse(body, status=error.status_code)
        destination = _destination(request, url_name)
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(destination)
        return HttpResponseRedirect(destination)

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class FrenchByDefaultMiddleware:
    """Pages are French unless the user picked English with the language switch (a cookie).

    The browser's Accept-Language is ignored for pages: our users work in French whatever their
    browser says. API clients keep content negotiation through Accept-Language.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class RequestSizeLimitMiddleware:
    """Refuse a request body larger than its path allows with 413, before anything reads it.

    The limit comes from the declared Content-Length: `REQUEST_MAX_BYTES` for every path, and
    `REQUEST_MAX_BYTES_LARGE` for the prefixes in `REQUEST_LARGE_PATHS` (buyer-health files, which
    providers export by the tens of megabytes). Each upload still checks its own, smaller, limit
    and names it (studies, claims and conversations documents); this is the outer bound. Without a
    Content-Length, Django's own `DATA_UPLOAD_MAX_MEMORY_SIZE` bounds what it reads.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = request_limit(request.path)
        if declared > limit:
            return request_too_large(request, limit=limit)
        return self.get_response(request)


def request_limit(path: str) -> int:
    from django.conf import settings

    if path.startswith(tuple(settings.REQUEST_LARGE_PATHS)):
        return int(settings.REQUEST_MAX_BYTES_LARGE)
    return int(settings.REQUEST_MAX_BYTES)


def request_too_large(request: HttpRequest, *, limit: int) -> HttpResponse:
    """413 with a message that says the limit: the API's error body, or a plain page."""
    from django.http import JsonResponse
    from django.template.loader import render_to_string
    from django.utils.translation import gettext as _

    megabytes = f"{limit / (1024 * 1024):.0f}"
    detail = _(
        "La requête dépasse la taille maximale acceptée (%(limit)s Mo). Envoyez un fichier plus "
        "petit ou découpez-le."
    ) % {"limit": megabytes}
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "request_too_large", "detail": detail}, status=413)
    body = render_to_string("413.html", {"detail": detail}, request=request)
    return HttpResponse(body, status=413)


# The API calls an ERP makes for every order, by URL name: a function that answers the usual
# call (a token, well-formed parameters) or returns None to leave the request to the full stack.
LEAN_API_HANDLERS = {"coverage-list": "underwriting.api_coverage.lean_coverage"}
LEAN_API_CSP = "default-src 'none'; frame-ancestors 'none'"


class LeanAPIMiddleware:
    """Answer the hot API calls before the middleware that serves pages and sessions.

    A token-authenticated API call has no session, no messages, no language to pick for a page,
    no two-factor step owed and no page to protect with a content security policy: the lean
    handlers (`LEAN_API_HANDLERS`) answer their usual call here, after the security and size
    checks, and enter the token's tenant scope themselves. Anything they do not answer (a
    session, a bad token or parameter, an error to word) goes through the whole stack to DRF."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.handlers: dict[str, Callable[[HttpRequest], HttpResponse | None]] | None = None

    def _handlers(self) -> dict[str, Callable[[HttpRequest], HttpResponse | None]]:
        if self.handlers is None:  # the URLconf is not loaded yet when middleware is built
            from django.urls import reverse
            from django.utils.module_loading import import_string

            self.handlers = {
                reverse(name): import_string(path) for name, path in LEAN_API_HANDLERS.items()
            }
        return self.handlers

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_AUTHORIZATION" in request.META:
            handler = self._handlers().get(request.path)
            if handler is not None:
                response = handler(request)
                if response is not None:
                    # A JSON answer: no page may frame it or load anything from it.
                    response["X-Frame-Options"] = "DENY"
                    response["Content-Security-Policy"] = (
                        "default-src 'none'; frame-ancestors 'none'"
                    )
                    return response
        return self.get_response(request)

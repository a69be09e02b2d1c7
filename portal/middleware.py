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

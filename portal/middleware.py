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

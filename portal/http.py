"""Typed access to what the middleware puts on a page request."""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import content_disposition_header

from portal.models import User


def page_user(request: HttpRequest) -> User:
    """The signed-in user of a page behind `login_required` or `page_requires`."""
    user = request.user
    assert isinstance(user, User), "login_required runs before any view code"
    return user


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request (set by django-htmx's middleware)."""
    return bool(getattr(request, "htmx", False))


def stored_file_download(stored: FieldFile, *, name: str, content_type: str) -> HttpResponse:
    """An uploaded file served through its owner's scope: always as an attachment, typed as it
    was recognised at upload, never sniffed by the browser, never cached."""
    try:
        with stored.open("rb") as opened:
            content = opened.read()
    except FileNotFoundError:
        raise Http404 from None  # the row outlived its file (a restored database)
    response = HttpResponse(content, content_type=content_type)
    disposition = content_disposition_header(as_attachment=True, filename=name)
    response["Content-Disposition"] = disposition or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response

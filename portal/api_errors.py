"""The one error edge of the API: domain errors become 4xx answers with a code, the field and
the message (`EXCEPTION_HANDLER`); views and serializers never catch them. DRF's own errors
(validation, including the query filters', authentication, not found, throttling) get the same
`{code, detail, field}` body; a validation error keeps each field's messages under its name too
(`{"code": "invalid", "detail": "…", "field": "buyer", "buyer": ["…"]}`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = NotFound()  # not Django's "No <Model> matches the given query."
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, APIException):
        response.data = error_body(exc, response.data)
    return response


def error_body(exc: APIException, data: Any) -> dict[str, Any]:
    """DRF's answer to `exc` in the body of a domain error: `code` and `detail` always,
    `field` when one input is at fault, and a validation error's messages by field."""
    if not isinstance(exc, ValidationError):
        detail = data.get("detail", data) if isinstance(data, dict) else data
        return {"code": _first_code(exc.get_codes()), "detail": str(detail)}
    if not isinstance(data, dict):
        # A list body (e.g. a list of invoices): its errors by position, under `errors`.
        _path, message = _first_error(data, "")
        return {"code": _first_code(exc.get_codes()), "detail": message, "errors": data}
    field, message = _first_error(data, "")
    body: dict[str, Any] = {
        name: messages
        for name, messages in data.items()
        if name not in ("code", "detail", "field", "errors")
    }
    body.update(code=_first_code(exc.get_codes()), detail=message)
    if field and field != "non_field_errors":
        body["field"] = field
    return body


def _first_code(codes: Any) -> str:
    while isinstance(codes, dict | list):
        if not codes:
            return "invalid"
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes or "invalid")


def _first_error(errors: Any, prefix: str) -> tuple[str, str]:
    """The path (`invoices[1].due_date`) and message of the first error in DRF's nesting."""
    if isinstance(errors, dict):
        for name, nested in errors.items():
            path = f"{prefix}.{name}" if prefix else str(name)
            if nested:
                return _first_error(nested, path)
    elif isinstance(errors, list):
        for index, nested in enumerate(errors):
            if not nested:
                continue
            if isinstance(nested, dict | list):
                return _first_error(nested, f"{prefix}[{index}]")
            return prefix, str(nested)
    elif errors:
        return prefix, str(errors)
    return prefix, ""

"""The OpenAPI schema documents the errors every operation can answer (issue 12, finding 5):
one `Error` component, the body `portal.api_errors` gives to every 4xx, declared for each
status the API really answers. `DEFAULT_SCHEMA_CLASS` in the settings."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx answer (`portal.api_errors`). A validation error also gives the "
    "messages of each input at fault under its name, e.g. "
    '`{"code": "invalid", "detail": "…", "field": "buyer", "buyer": ["…"]}`.',
    "properties": {
        "code": {
            "type": "string",
            "description": "Stable for clients: `invalid`, `not_found`, `not_authenticated`, "
            "`throttled`, `conflict`, `rule_violation` or a rule's own code.",
        },
        "detail": {"type": "string", "description": "What is wrong, in plain words."},
        "field": {
            "type": "string",
            "description": "The input at fault (a body field, a query parameter, a header, or a "
            "path such as `invoices[1].due_date`), when one is.",
        },
        "errors": {
            "type": "array",
            "items": {},
            "description": "For a list body: the errors of each item, by position.",
        },
    },
    "required": ["code", "detail"],
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "Invalid input (body, query parameter or header), or a business rule refused it; "
    "`field` names the input at fault.",
    "401": "No valid credentials (a missing, expired or revoked token).",
    "403": "Refused: a session without its CSRF token, or an action the role may not take.",
    "404": "Not found in your scope, or not an action your role may take (as on the pages).",
    "409": "Conflicts with the current state (e.g. already decided, a replayed key with "
    "another body).",
    "413": "The body is larger than the API accepts (`REQUEST_MAX_BYTES`).",
    "415": "The body's content type is not one this operation reads.",
    "429": "Too many requests: retry after the `Retry-After` seconds.",
}


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the `Error` answers of each operation."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        content = {"application/json": {"schema": component.ref}}
        for code in self._error_codes():
            declared = responses.get(code)
            if declared is None:
                responses[code] = {"content": content, "description": DESCRIPTIONS[code]}
            elif "content" not in declared:
                # A view's own words for this status (e.g. a CSV's line verdicts): keep them.
                declared["content"] = content
        return responses

    def _get_paginator(self) -> Any:
        # Only a GET reads pages: a POST answering a list (e.g. the invoices it added) is not
        # paginated, whatever its view's `pagination_class`.
        return super()._get_paginator() if self.method == "GET" else None

    def get_filter_backends(self) -> list[Any]:
        # The filters apply where `portal.api_filters.ListFilterBackend` applies them only.
        action = getattr(self.view, "action", None)
        if self.method != "GET" or action not in getattr(self.view, "filtered_actions", ("list",)):
            return []
        return list(getattr(self.view, "filter_backends", []))

    def _error_codes(self) -> list[str]:
        codes = ["400", "404", "409", "429"]
        view = self.view
        public = any(isinstance(p, AllowAny) for p in view.get_permissions())
        if view.get_authenticators() and not public:
            codes.append("401")
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            codes.append("403")
            if self._get_request_body() is not None:
                codes += ["413", "415"]
        return sorted(codes)

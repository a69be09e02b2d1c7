"""The one family of domain errors. Services raise them; `portal.api_errors` turns them into
HTTP answers, `portal.forms.apply_domain_error` into form errors, tasks into failures."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


class DomainError(Exception):
    """A business rule refused the operation. `field` names the input at fault, if any;
    `code` is stable for API clients."""

    status_code = 400
    default_code = "invalid"

    def __init__(
        self, message: str, *, field: str | None = None, code: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"code": self.code, "detail": self.message}
        if self.field:
            payload["field"] = self.field
        payload.update(self.extra)
        return payload


class RuleViolation(DomainError):
    status_code = 400
    default_code = "rule_violation"


class Conflict(DomainError):
    status_code = 409
    default_code = "conflict"


class Forbidden(DomainError):
    """The user may not do this (DESIGN §3). Pages answer 404 before a service is reached."""

    status_code = 403
    default_code = "permission_denied"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message or _("Vous n'avez pas le droit de faire cela."), **kwargs)


class NotFound(DomainError):
    """What the action names does not exist in the caller's scope (404, like a page)."""

    status_code = 404
    default_code = "not_found"

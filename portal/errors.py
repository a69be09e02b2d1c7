"""The one family of domain errors. Services raise them; pages turn them into form errors,
the API into 400/409 answers, tasks into failures."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule refused the operation. `field` names the input at fault, if any."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"detail": self.message}
        if self.field:
            payload["field"] = self.field
        payload.update(self.extra)
        return payload


class RuleViolation(DomainError):
    status_code = 400


class Conflict(DomainError):
    status_code = 409

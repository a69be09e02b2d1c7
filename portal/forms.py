"""Form helpers shared by every app's pages."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest

from portal.errors import DomainError


def apply_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's refusal on the field it names (or on the whole form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def form_errors_as_messages(request: HttpRequest, form: forms.Form) -> None:
    """For forms posted from another page: each error as a message naming its field."""
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        for error in errors:
            messages.error(request, f"{label} {error}".strip() if label else str(error))

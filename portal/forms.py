"""Form helpers shared by every app's pages."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from portal.errors import DomainError
from portal.money import eur, grouped


def apply_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's refusal on the field it names (or on the whole form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _named_errors(form: forms.Form, field: str) -> list[str]:
    """The field's errors, each naming the field once (a MoneyField's already does)."""
    label = str(form.fields[field].label or "") if field in form.fields else ""
    return [
        str(error) if not label or str(error).startswith(label) else f"{label} : {error}"
        for error in form.errors.get(field, [])
    ]


def form_errors_as_messages(request: HttpRequest, form: forms.Form) -> None:
    """For forms posted from another page: each error as a message naming its field."""
    for field in form.errors:
        for message in _named_errors(form, field):
            messages.error(request, message)


def typed_input_errors(form: forms.Form) -> list[str]:
    """While the user types (a live panel): the errors of the fields already filled in, with
    the words the form uses on submit; an empty field is not an error yet."""
    return [
        message
        for field in form.errors
        if field in form.fields and str(form.data.get(form.add_prefix(field), "")).strip()
        for message in _named_errors(form, field)
    ]


_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009")
_PLAIN_AMOUNT = re.compile(r"-?\d+(\.\d+)?")
_GROUPED = re.compile(r"-?\d{1,3}([,.]\d{3})+")


def parse_amount(text: str, *, english: bool) -> Decimal | None:
    """An amount as people type it: 1 234,56 / 1234.56 / 1 234.56 / 1.234,56 / 1,234.56, any
    kind of space for thousands, with or without €. None if it is not a number. A lone comma is
    the decimal separator, except in English where 1,234 (three digits after it) groups
    thousands."""
    value = text.translate(_SPACES).removesuffix("€").removeprefix("€").strip()
    value = value.removesuffix("EUR").removesuffix("eur")
    if "," in value and "." in value:
        # The later separator is the decimal one; the other groups thousands.
        grouping = "," if value.rindex(".") > value.rindex(",") else "."
        whole, _sep, cents = value.rpartition("." if grouping == "," else ",")
        if not _GROUPED.fullmatch(whole) and not whole.lstrip("-").isdigit():
            return None
        value = f"{whole.replace(grouping, '')}.{cents}"
    elif value.count(",") > 1 or value.count(".") > 1 or (english and _GROUPED.fullmatch(value)):
        if not _GROUPED.fullmatch(value):
            return None
        value = value.replace(",", "").replace(".", "")
    else:
        value = value.replace(",", ".")
    if not _PLAIN_AMOUNT.fullmatch(value):
        return None
    return Decimal(value)


class MoneyInput(forms.TextInput):
    """An amount box: shows 160 000,00 in French and 160,000.00 in English (what was typed is
    shown back as typed); a text input with the decimal keypad on phones."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
            return grouped(value)
        return super().format_value(value)


class MoneyField(forms.DecimalField):
    """An amount in euros, typed the French way ("100 000,50"), the plain way ("100000.50") or
    as the page showed it; refused with a message naming the field and the expected form. The
    API keeps strict decimals (its serializers do not use this field)."""

    widget = MoneyInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0"))
        super().__init__(**kwargs)
        # Lazy, so that each message is in the language of the page that shows it.
        label = self.label or _("Le montant")
        self.error_messages["invalid"] = format_lazy(
            _("{label} : saisissez un montant en euros, par exemple 1 234,56."), label=label
        )
        minimum = kwargs["min_value"]
        self.error_messages["min_value"] = (
            format_lazy(_("{label} : le montant ne peut pas être négatif."), label=label)
            if minimum is None or minimum == 0
            else format_lazy(
                _("{label} : le montant doit être d'au moins {minimum}."),
                label=label,
                minimum=lazy(eur, str)(minimum),
            )
        )
        self.error_messages["max_decimal_places"] = format_lazy(
            _("{label} : pas plus de deux chiffres après la virgule."), label=label
        )

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # why: the stubs type DecimalField.to_python as IntegerField's
        if isinstance(value, str):
            if not value.strip():
                return None
            parsed = parse_amount(value, english=(get_language() or "").startswith("en"))
            if parsed is None:
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            value = parsed
        return super().to_python(value)

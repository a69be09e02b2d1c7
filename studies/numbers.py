"""Amounts as people type them in French spreadsheets, read into Decimal euros to the cent."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from portal.money import money

# Space, no-break space, narrow no-break space, thin space: all thousands separators in French.
_SPACES = re.compile(r"[ \u00a0\u202f\u2009]+")
_CURRENCY = re.compile(r"€|\bEUR\b|\bEuros?\b", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_GROUPED = re.compile(r"[1-9]\d{0,2}(?:[ .,']\d{3})+")
_FRENCH_THOUSANDS = re.compile(r"[1-9]\d{0,2}\.\d{3}")


def parse_amount(text: str) -> Decimal | None:
    """ "1 234,56", "1.234,56", "1234.56", "1234,5", "1 234 €", "-12,5" → Decimal to the cent,
    rounded half up; None when the text is not an amount.

    A lone dot followed by exactly three digits ("12.500") is a French thousands separator:
    an amount to the tenth of a cent is not something anyone means."""
    value = _CURRENCY.sub("", text)
    value = _SPACES.sub(" ", value).strip()
    negative = value[:1] in ("-", "\u2212")
    if value[:1] in ("-", "+", "\u2212"):
        value = value[1:].lstrip()
    if not value:
        return None
    commas, dots = value.count(","), value.count(".")
    decimal_mark: str | None
    if commas and dots:
        decimal_mark = "," if value.rfind(",") > value.rfind(".") else "."
    elif commas:
        decimal_mark = "," if commas == 1 else None
    elif dots == 1 and not _FRENCH_THOUSANDS.fullmatch(value):
        decimal_mark = "."
    else:
        decimal_mark = None
    whole, fraction = value, ""
    if decimal_mark is not None:
        whole, _mark, fraction = value.rpartition(decimal_mark)
        if not _DIGITS.fullmatch(fraction):
            return None
        whole = whole or "0"
    if not _DIGITS.fullmatch(whole):
        # Thousands separators must group by three: "12 34" is a typing error, not 1 234.
        if not _GROUPED.fullmatch(whole) or len(set(re.findall(r"[ .,']", whole))) != 1:
            return None
        whole = re.sub(r"[ .,']", "", whole)
    return _checked(Decimal(f"{'-' if negative else ''}{whole}.{fraction or '0'}"))


def amount_from_cell(value: object) -> Decimal | None:
    """A spreadsheet cell: numbers are taken exactly (through their text, never float
    arithmetic), text is read as `parse_amount` reads it."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        try:
            return _checked(Decimal(str(value)))
        except InvalidOperation:
            return None
    if isinstance(value, str):
        return parse_amount(value)
    return None


def _checked(number: Decimal) -> Decimal | None:
    if not number.is_finite():
        return None
    return money(number)

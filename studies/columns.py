"""The logical columns of a buyer list and the header names users give them (DESIGN §4 "Study")."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from django.utils.translation import gettext as _


class Column(StrEnum):
    IDENTIFIER = "identifier"
    NAME = "name"
    EXPOSURE = "exposure"
    PRIMARY = "primary"
    TOP_UP = "top_up"

    @property
    def label(self) -> str:
        """The French header of the template, used when the file gave no header of its own."""
        return {
            Column.IDENTIFIER: _("Identifiant (SIREN, SIRET ou n° TVA)"),
            Column.NAME: _("Raison sociale"),
            Column.EXPOSURE: _("Encours (€)"),
            Column.PRIMARY: _("Limite primaire (€)"),
            Column.TOP_UP: _("Top-up demandé (€)"),
        }[self]


# What a spreadsheet may take for the start of a formula (with the full-width forms, which
# some versions of Excel also accept). Exports put a `'` before them; reading takes it off.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

REQUIRED = (Column.IDENTIFIER, Column.NAME, Column.EXPOSURE, Column.PRIMARY)
AMOUNTS = (Column.EXPOSURE, Column.PRIMARY, Column.TOP_UP)

# Keys are headers as `header_key` reduces them: no accents, case, spaces, punctuation or unit.
ALIASES: dict[str, Column] = {
    **dict.fromkeys(
        (
            "siren",
            "siret",
            "sirensiret",
            "ntva",
            "notva",
            "tva",
            "numerotva",
            "tvaintracommunautaire",
            "vat",
            "vatnumber",
            "identifiant",
            "identifier",
        ),
        Column.IDENTIFIER,
    ),
    **dict.fromkeys(
        ("raisonsociale", "nom", "name", "company", "companyname", "denomination"), Column.NAME
    ),
    **dict.fromkeys(("encours", "exposure"), Column.EXPOSURE),
    **dict.fromkeys(
        ("limiteprimaire", "garantieprimaire", "primary", "primarylimit"), Column.PRIMARY
    ),
    **dict.fromkeys(
        ("topupdemande", "topup", "requestedtopup", "complement", "complementdemande"),
        Column.TOP_UP,
    ),
}

_UNIT = re.compile(r"\([^)]*\)|€")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def header_key(header: str) -> str:
    """ "Top-up demandé (€)" → "topupdemande", "N° TVA" → "ntva", "PRIMARY_LIMIT" →
    "primarylimit": accents, case, spaces, punctuation and units do not count."""
    text = _UNIT.sub("", header)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    return _NOT_ALNUM.sub("", text)


def column_of(header: str) -> Column | None:
    return ALIASES.get(header_key(header))

"""Company identifiers: SIREN, SIRET (the limit attaches to its SIREN), French VAT, EU VAT."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _
from stdnum import luhn
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.fr import siren as fr_siren
from stdnum.fr import siret as fr_siret
from stdnum.fr import tva as fr_tva

from portal.errors import RuleViolation


@dataclass(frozen=True)
class CompanyId:
    siren: str | None
    vat_number: str | None
    country: str


def _compact(raw: str) -> str:
    return re.sub(r"[\s.\-/]", "", raw or "").upper()


_VAT_LIKE = re.compile(r"[A-Z]{2}[0-9A-Z]{2,}")


def identifier_problem(raw: str) -> str | None:
    """What is wrong with a search that looks like an identifier (seven digits or more, or a
    country code and a number) but is not a valid one; None for a valid one or a name."""
    value = _compact(raw)
    looks_like_one = (value.isdigit() and len(value) >= 7) or (
        _VAT_LIKE.fullmatch(value) is not None and sum(c.isdigit() for c in value) >= 7
    )
    if not looks_like_one:
        return None
    try:
        parse_company_id(value, field="q")
    except RuleViolation as error:
        return error.message
    return None


def parse_company_id(raw: str, *, field: str = "identifier") -> CompanyId:
    """Normalise and validate a SIREN, SIRET, French VAT number or EU VAT number.

    Raises RuleViolation with the reason when the identifier is not valid.
    """
    value = _compact(raw)
    if not value:
        raise RuleViolation(_("Indiquez un SIREN, un SIRET ou un numéro de TVA."), field=field)
    if value.isdigit():
        if len(value) == 9:
            if not luhn.is_valid(value):
                raise RuleViolation(
                    _("SIREN %(value)s invalide : la clé de contrôle (Luhn) ne correspond pas.")
                    % {"value": value},
                    field=field,
                )
            return CompanyId(siren=fr_siren.compact(value), vat_number=None, country="FR")
        if len(value) == 14:
            try:
                fr_siret.validate(value)
            except ValidationError:
                raise RuleViolation(
                    _("SIRET %(value)s invalide : la clé de contrôle ne correspond pas.")
                    % {"value": value},
                    field=field,
                ) from None
            return CompanyId(siren=value[:9], vat_number=None, country="FR")
        raise RuleViolation(
            _("%(value)s : un SIREN a 9 chiffres, un SIRET 14.") % {"value": value}, field=field
        )
    if value.startswith("FR"):
        try:
            number = fr_tva.validate(value)
        except ValidationError:
            raise RuleViolation(
                _("Numéro de TVA %(value)s invalide : la clé ou le SIREN ne correspond pas.")
                % {"value": value},
                field=field,
            ) from None
        siren = number[-9:]
        if not luhn.is_valid(siren):
            raise RuleViolation(
                _("Numéro de TVA %(value)s : le SIREN %(siren)s est invalide.")
                % {"value": value, "siren": siren},
                field=field,
            )
        return CompanyId(siren=siren, vat_number=None, country="FR")
    try:
        number = eu_vat.validate(value)
    except ValidationError:
        raise RuleViolation(
            _(
                "%(value)s n'est ni un SIREN, ni un SIRET, "  # noqa: ISC001
                "ni un numéro de TVA intracommunautaire valide."
            )
            % {"value": value},
            field=field,
        ) from None
    country = number[:2]
    return CompanyId(siren=None, vat_number=number, country=country)

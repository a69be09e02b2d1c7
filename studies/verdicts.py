"""A verdict for every line of a buyer list (issue 8 "Upload", DESIGN §4 "Top-up request"):
accepted, with the buyer's normalised identifier, or errors that each name the line, the column
as the user wrote it, the value and the fix. Pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.utils.translation import gettext as _

from portal.errors import RuleViolation
from portal.money import money
from studies.columns import Column
from studies.parsing import BuyerLine
from underwriting.identifiers import CompanyId, parse_company_id
from underwriting.rules import eur

# The largest amount the money columns hold (max_digits 14, 2 places).
MAX_AMOUNT = Decimal("999999999999.99")
# Buyer.name holds 200 characters.
MAX_NAME = 200
# Values quoted in a message are cut here: a pasted paragraph must not drown the message.
QUOTE_AT = 60


class Problem(StrEnum):
    IDENTIFIER_MISSING = "identifier_missing"
    IDENTIFIER_INVALID = "identifier_invalid"
    DUPLICATE = "duplicate"
    NAME_MISSING = "name_missing"
    NAME_TOO_LONG = "name_too_long"
    AMOUNT_MISSING = "amount_missing"
    NOT_A_NUMBER = "not_a_number"
    NOT_POSITIVE = "not_positive"
    NEGATIVE = "negative"
    TOO_LARGE = "too_large"
    PRIMARY_ABOVE_EXPOSURE = "primary_above_exposure"
    TOP_UP_ABOVE_MULTIPLE = "top_up_above_multiple"


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    column: Column
    header: str  # the column as the user's header names it
    value: str  # the cell as the user wrote it
    problem: Problem
    reason: str  # what is wrong, in French
    fix: str  # what to do, in French

    @property
    def message(self) -> str:
        return _("Ligne %(line)s, colonne « %(column)s » : %(reason)s %(fix)s") % {
            "line": self.line,
            "column": self.header,
            "reason": self.reason,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class LineVerdict:
    line: BuyerLine
    errors: tuple[LineError, ...]
    # Set whenever the identifier is valid, even when another cell is wrong.
    company: CompanyId | None

    @property
    def accepted(self) -> bool:
        return not self.errors

    @property
    def buyer_key(self) -> str | None:
        """SIREN for a French buyer (whatever form it was given in), EU VAT number otherwise."""
        if self.company is None:
            return None
        return self.company.siren or self.company.vat_number


def line_verdicts(
    *,
    lines: Sequence[BuyerLine],
    top_up_multiple: Decimal,
    headers: Mapping[Column, str] | None = None,
    known_buyers: Collection[str] = frozenset(),
) -> list[LineVerdict]:
    """One verdict per line, in order. `headers` are the user's headers (`ParsedFile.headers`),
    so that errors name the columns as the user sees them; `known_buyers` the keys (SIREN or
    VAT number) of buyers the registry already names, whose name cell may be left empty."""
    check = _LineCheck(headers=headers or {}, multiple=top_up_multiple, known=known_buyers)
    first_line: dict[str, int] = {}
    verdicts = []
    for line in lines:
        errors, company = check.errors(line)
        key = None if company is None else company.siren or company.vat_number
        if key is not None:
            first = first_line.setdefault(key, line.number)
            if first != line.number:
                errors.insert(0, check.duplicate(line, key=key, first=first))
        verdicts.append(LineVerdict(line=line, errors=tuple(errors), company=company))
    return verdicts


def _quote(value: str) -> str:
    return value if len(value) <= QUOTE_AT else value[: QUOTE_AT - 1] + "…"


class _LineCheck:
    def __init__(
        self, *, headers: Mapping[Column, str], multiple: Decimal, known: Collection[str]
    ) -> None:
        self.headers = headers
        self.multiple = multiple
        self.known = known

    def error(
        self, line: BuyerLine, column: Column, problem: Problem, reason: str, fix: str
    ) -> LineError:
        return LineError(
            line=line.number,
            column=column,
            header=self.headers.get(column) or column.label,
            value=line.text(column),
            problem=problem,
            reason=reason,
            fix=fix,
        )

    def errors(self, line: BuyerLine) -> tuple[list[LineError], CompanyId | None]:
        errors: list[LineError] = []
        company = self.identifier(line, errors)
        self.name(line, company, errors)
        exposure = self.amount(line, Column.EXPOSURE, errors, required=True)
        primary = self.amount(line, Column.PRIMARY, errors, required=True)
        top_up = self.amount(line, Column.TOP_UP, errors, required=False)
        if exposure is not None and primary is not None and primary > exposure:
            errors.append(
                self.error(
                    line,
                    Column.PRIMARY,
                    Problem.PRIMARY_ABOVE_EXPOSURE,
                    _("la limite primaire (%(primary)s) dépasse l'encours (%(exposure)s).")
                    % {"primary": eur(primary), "exposure": eur(exposure)},
                    _(
                        "Corrigez l'une ou l'autre : la couverture ne dépasse jamais l'encours, "
                        "et il ne reste alors aucune place pour un top-up."
                    ),
                )
            )
        if primary is not None and top_up is not None:
            ceiling = money(self.multiple * primary)
            if top_up > ceiling:
                errors.append(
                    self.error(
                        line,
                        Column.TOP_UP,
                        Problem.TOP_UP_ABOVE_MULTIPLE,
                        _(
                            "le top-up demandé (%(top_up)s) dépasse %(multiple)s fois la limite "
                            "primaire (%(ceiling)s)."
                        )
                        % {
                            "top_up": eur(top_up),
                            "multiple": f"{self.multiple.normalize():f}".replace(".", ","),
                            "ceiling": eur(ceiling),
                        },
                        _("Demandez au plus %(ceiling)s, ou laissez la case vide.")
                        % {"ceiling": eur(ceiling)},
                    )
                )
        return errors, company

    def identifier(self, line: BuyerLine, errors: list[LineError]) -> CompanyId | None:
        if not line.identifier:
            errors.append(
                self.error(
                    line,
                    Column.IDENTIFIER,
                    Problem.IDENTIFIER_MISSING,
                    _("l'identifiant est vide."),
                    _(
                        "Indiquez le SIREN (9 chiffres), le SIRET (14 chiffres) ou le numéro "
                        "de TVA."
                    ),
                )
            )
            return None
        try:
            if len(line.identifier) > QUOTE_AT:
                raise RuleViolation(
                    _("« %(value)s » est trop long pour un SIREN, un SIRET ou un numéro de TVA.")
                    % {"value": _quote(line.identifier)}
                )
            return parse_company_id(line.identifier, field=Column.IDENTIFIER)
        except RuleViolation as violation:
            errors.append(
                self.error(
                    line,
                    Column.IDENTIFIER,
                    Problem.IDENTIFIER_INVALID,
                    violation.message,
                    _(
                        "Recopiez-le depuis l'extrait Kbis ou l'annuaire des entreprises "
                        "(annuaire-entreprises.data.gouv.fr)."
                    ),
                )
            )
            return None

    def name(self, line: BuyerLine, company: CompanyId | None, errors: list[LineError]) -> None:
        if len(line.name) > MAX_NAME:
            errors.append(
                self.error(
                    line,
                    Column.NAME,
                    Problem.NAME_TOO_LONG,
                    _("la raison sociale compte %(count)s caractères.") % {"count": len(line.name)},
                    _("Raccourcissez-la à %(max)s caractères au plus.") % {"max": MAX_NAME},
                )
            )
        key = None if company is None else company.siren or company.vat_number
        # A buyer the registry already names may come without a name; a new one may not.
        if not line.name and (key is None or key not in self.known):
            errors.append(
                self.error(
                    line,
                    Column.NAME,
                    Problem.NAME_MISSING,
                    _("la raison sociale est vide."),
                    _(
                        "Indiquez le nom de l'acheteur : il n'est pas encore connu de la "
                        "plateforme."
                    ),
                )
            )

    def amount(
        self, line: BuyerLine, column: Column, errors: list[LineError], *, required: bool
    ) -> Decimal | None:
        text = line.text(column)
        value = line.amount(column)
        if not text:
            if required:
                fix = {
                    Column.EXPOSURE: _(
                        "Indiquez l'encours sur l'acheteur, par exemple 100 000,00."
                    ),
                    Column.PRIMARY: _(
                        "Indiquez la limite accordée par l'assureur primaire, par exemple "
                        "40 000,00."
                    ),
                }.get(column, _("Indiquez un montant en euros, par exemple 40 000,00."))
                errors.append(
                    self.error(line, column, Problem.AMOUNT_MISSING, _("la case est vide."), fix)
                )
            return None
        if value is None:
            errors.append(
                self.error(
                    line,
                    column,
                    Problem.NOT_A_NUMBER,
                    _("« %(value)s » n'est pas un montant.") % {"value": _quote(text)},
                    _("Indiquez un montant en euros, par exemple 40 000,00."),
                )
            )
            return None
        if value > MAX_AMOUNT:
            errors.append(
                self.error(
                    line,
                    column,
                    Problem.TOO_LARGE,
                    _("%(value)s dépasse le plus grand montant accepté (%(max)s).")
                    % {"value": _quote(text), "max": eur(MAX_AMOUNT)},
                    _("Vérifiez le montant : un séparateur a peut-être été oublié."),
                )
            )
            return None
        if column is Column.TOP_UP:
            if value < 0:
                errors.append(
                    self.error(
                        line,
                        column,
                        Problem.NEGATIVE,
                        _("le top-up demandé (%(value)s) est négatif.") % {"value": eur(value)},
                        _("Indiquez un montant positif, ou laissez la case vide."),
                    )
                )
                return None
            return value
        if value <= 0:
            if column is Column.PRIMARY:
                reason = _("la limite primaire vaut %(value)s.") % {"value": eur(value)}
                fix = _(
                    "Sans limite primaire, pas de top-up : indiquez la limite accordée par "
                    "l'assureur primaire, ou retirez la ligne."
                )
            else:
                reason = _("l'encours vaut %(value)s.") % {"value": eur(value)}
                fix = _("Indiquez un encours positif, ou retirez la ligne.")
            errors.append(self.error(line, column, Problem.NOT_POSITIVE, reason, fix))
            return None
        return value

    def duplicate(self, line: BuyerLine, *, key: str, first: int) -> LineError:
        return self.error(
            line,
            Column.IDENTIFIER,
            Problem.DUPLICATE,
            _("l'acheteur %(key)s figure déjà à la ligne %(first)s.")
            % {"key": key, "first": first},
            _("Gardez une seule ligne par acheteur : regroupez les encours et supprimez celle-ci."),
        )

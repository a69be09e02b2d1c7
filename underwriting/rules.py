"""The rules of a top-up request (DESIGN §4), in one place for the page, the API and decisions.

`top_up_limits` is pure: it takes the numbers and answers the largest top-up the rules allow and
the rule that sets it. `TopUpLimits.enforce` turns a breach into a RuleViolation that names the
rule in plain words and the largest amount that passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.utils.translation import gettext as _

from portal.errors import RuleViolation
from portal.money import CENT as CENT
from portal.money import ZERO as ZERO
from portal.money import eur as eur
from portal.money import money as money

# A seasonal limit covers a season: its end lies at most this far after its start.
SEASONAL_MAX = timedelta(days=731)


def seasonal_end_check(*, starts_on: date, ends_on: date | None, field: str) -> None:
    """Refuse a seasonal end before the start or beyond `SEASONAL_MAX` after it."""
    if ends_on is None:
        return
    if ends_on < starts_on:
        raise RuleViolation(_("La fin de validité précède la date d'effet."), field=field)
    if ends_on > starts_on + SEASONAL_MAX:
        raise RuleViolation(
            _("Une limite saisonnière dure au plus deux ans : choisissez une fin plus proche."),
            field=field,
        )


def primary_from_percent(*, exposure: Decimal, percent: Decimal) -> Decimal:
    return money(exposure * percent / Decimal(100))


def _plain(value: Decimal) -> str:
    """2.00 → "2", 2.50 → "2,5"."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return str(value.normalize()).replace(".", ",")


@dataclass(frozen=True)
class Rule:
    code: str
    message: str
    field: str
    cap: Decimal | None = None  # the largest top-up this rule allows; None = no top-up at all
    # How the request form's panel states the rule as a limit; `message` says it as a breach.
    limit: str = ""

    @property
    def label(self) -> str:
        return self.limit or self.message


@dataclass(frozen=True)
class TopUpLimits:
    max_top_up: Decimal
    binding: Rule | None  # the rule that sets `max_top_up`
    blockers: list[Rule] = field(default_factory=list)  # rules that allow no top-up at all
    caps: list[Rule] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.blockers and self.max_top_up > 0

    def breach(self, requested: Decimal) -> Rule | None:
        if self.blockers:
            return self.blockers[0]
        for rule in self.caps:
            if rule.cap is not None and requested > rule.cap:
                return rule
        return None

    def enforce(self, requested: Decimal, *, field: str = "requested_top_up") -> None:
        rule = self.breach(requested)
        if rule is None:
            return
        if rule.cap is None:
            raise RuleViolation(rule.message, field=rule.field, rule=rule.code, max_top_up="0.00")
        raise RuleViolation(
            _("%(rule)s Le plus grand top-up possible est %(max)s.")
            % {"rule": rule.message, "max": eur(self.max_top_up)},
            field=field,
            rule=rule.code,
            max_top_up=str(self.max_top_up),
        )


def top_up_limits(
    *,
    exposure: Decimal,
    primary: Decimal,
    multiple: Decimal,
    credit_term_days: int | None = None,
    max_credit_term_days: int | None = None,
    contract_active: bool = True,
    contract_number: str = "",
    buyer_in_liquidation: bool = False,
    aggregate_cap: Decimal | None = None,
    aggregate_in_force_elsewhere: Decimal = ZERO,
) -> TopUpLimits:
    """The largest top-up `T` on one buyer, and why.

    `aggregate_in_force_elsewhere` is the sum of the contract's top-ups in force on the other
    buyers: a request replaces the limit on its own buyer, so that one is not counted twice.
    """
    blockers: list[Rule] = []
    if not contract_active:
        blockers.append(
            Rule(
                "contract_active",
                _("Le contrat %(number)s n'est pas actif : aucune garantie ne peut être demandée.")
                % {"number": contract_number},
                "contract",
            )
        )
    if buyer_in_liquidation:
        blockers.append(
            Rule(
                "buyer_liquidation",
                _("L'acheteur est en liquidation judiciaire : aucun top-up n'est possible."),
                "buyer",
            )
        )
    if primary <= 0:
        blockers.append(
            Rule(
                "primary_required",
                _("Sans limite primaire, pas de top-up : la limite primaire doit être positive."),
                "primary_amount",
            )
        )
    if exposure <= 0:
        blockers.append(Rule("exposure_positive", _("L'encours doit être positif."), "exposure"))
    if (
        credit_term_days is not None
        and max_credit_term_days is not None
        and credit_term_days > max_credit_term_days
    ):
        blockers.append(
            Rule(
                "credit_term",
                _(
                    "La durée de crédit (%(term)s jours) dépasse le maximum du contrat "
                    "(%(max)s jours)."
                )
                % {"term": credit_term_days, "max": max_credit_term_days},
                "credit_term_days",
            )
        )

    caps = [
        Rule(
            "triple",
            _(
                "Le top-up ne peut pas dépasser %(m)s fois la limite primaire (%(p)s) : la "
                "couverture totale est au plus le triple du primaire."
            )
            % {"m": _plain(multiple), "p": eur(primary)},
            "requested_top_up",
            cap=max(ZERO, (multiple * primary).quantize(CENT, rounding=ROUND_DOWN)),
        ),
        Rule(
            "exposure",
            _(
                "Limite primaire et top-up ensemble ne peuvent pas dépasser l'encours "
                "(%(e)s) : la couverture ne dépasse jamais l'encours."
            )
            % {"e": eur(exposure)},
            "requested_top_up",
            cap=max(ZERO, money(exposure - primary)),
        ),
    ]
    if aggregate_cap is not None:
        caps.append(
            Rule(
                "aggregate_cap",
                _(
                    "Le plafond global du contrat (%(cap)s) serait dépassé : %(used)s sont déjà "
                    "garantis sur les autres acheteurs."
                )
                % {"cap": eur(aggregate_cap), "used": eur(aggregate_in_force_elsewhere)},
                "requested_top_up",
                cap=max(ZERO, money(aggregate_cap - aggregate_in_force_elsewhere)),
                limit=_(
                    "Plafond global du contrat : %(cap)s, dont %(used)s déjà garantis sur les "
                    "autres acheteurs."
                )
                % {"cap": eur(aggregate_cap), "used": eur(aggregate_in_force_elsewhere)},
            )
        )
    if blockers:
        return TopUpLimits(max_top_up=ZERO, binding=blockers[0], blockers=blockers, caps=caps)
    binding = min(caps, key=lambda rule: rule.cap if rule.cap is not None else ZERO)
    return TopUpLimits(
        max_top_up=binding.cap or ZERO, binding=binding, blockers=blockers, caps=caps
    )

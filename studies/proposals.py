"""The study proposal grid of DESIGN §4: an automatic proposal per accepted line.

Let X be the largest top-up the rules allow for the line, capped at the requested top-up when
one is given: grade 8–10 → X, 6–7 → 50 % of X, 4–5 → 25 % of X (the insurer admin may edit the
bands); grade 3 or below, open collective proceedings or an unknown grade → 0, with the reason.
Proposals are rounded down to a multiple of 500 €.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.utils.translation import gettext as _

from portal.money import rate_label
from studies.models import ProposalGridBand
from underwriting.models import ProceedingsStatus
from underwriting.rules import eur

STEP = Decimal("500")
ZERO = Decimal("0")


@dataclass(frozen=True)
class Band:
    min_grade: int
    max_grade: int
    factor: Decimal


@dataclass(frozen=True)
class Proposal:
    amount: Decimal
    reason: str


# DESIGN §4's defaults (also written by migration 0002 for the admin to edit).
DEFAULT_BANDS = (
    Band(min_grade=8, max_grade=10, factor=Decimal("1")),
    Band(min_grade=6, max_grade=7, factor=Decimal("0.5")),
    Band(min_grade=4, max_grade=5, factor=Decimal("0.25")),
)


def grid_bands() -> list[Band]:
    """The grid as the insurer admin set it; an empty grid means DESIGN's defaults (to stop
    automatic proposals, the admin sets a band's factor to 0 rather than deleting the grid)."""
    bands = [
        Band(min_grade=band.min_grade, max_grade=band.max_grade, factor=band.factor)
        for band in ProposalGridBand.objects.order_by("-min_grade")
    ]
    return bands or list(DEFAULT_BANDS)


def round_down_to_step(amount: Decimal) -> Decimal:
    return (amount / STEP).to_integral_value(rounding=ROUND_DOWN) * STEP


def propose(
    *,
    grade: int | None,
    proceedings: str,
    max_allowed: Decimal,
    requested: Decimal | None,
    bands: Sequence[Band],
) -> Proposal:
    """The grid's proposal for one line; never above what the line asked or the rules allow."""
    if proceedings != ProceedingsStatus.NONE:
        return Proposal(ZERO, _("Procédure collective ouverte : pas de top-up."))
    if grade is None:
        return Proposal(ZERO, _("Note inconnue : pas de proposition automatique."))
    ceiling = max_allowed if requested is None else min(max_allowed, requested)
    ceiling = max(ceiling, ZERO)
    band = next((b for b in bands if b.min_grade <= grade <= b.max_grade), None)
    if band is None or band.factor == 0:
        return Proposal(ZERO, _("Note %(grade)s/10 : pas de top-up.") % {"grade": grade})
    amount = round_down_to_step(ceiling * band.factor)
    return Proposal(
        amount,
        _("Note %(grade)s/10 : %(percent)s du maximum (%(ceiling)s), arrondi à 500 €.")
        % {"grade": grade, "percent": rate_label(band.factor), "ceiling": eur(ceiling)},
    )

"""How grades and collective proceedings are written for people (DESIGN §6), in one place for
pages and e-mails: "note 5/10 (risque moyen)", "Procédure collective : aucune"."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# What a grade means, by band (0 worst to 10 best): the lowest grade of each band, best first.
GRADE_BANDS: tuple[tuple[int, Promise], ...] = (
    (8, gettext_lazy("risque faible")),
    (6, gettext_lazy("risque modéré")),
    (4, gettext_lazy("risque moyen")),
    (1, gettext_lazy("risque élevé")),
    (0, gettext_lazy("défaut")),
)


def grade_meaning(grade: int) -> str:
    """5 → "risque moyen"."""
    return next(str(meaning) for lowest, meaning in GRADE_BANDS if grade >= lowest)


def grade_label(grade: int | None) -> str:
    """5 → "note 5/10 (risque moyen)"; no grade → "note inconnue"."""
    if grade is None:
        return _("note inconnue")
    return _("note %(grade)s/10 (%(meaning)s)") % {
        "grade": grade,
        "meaning": grade_meaning(grade),
    }


def proceedings_label(display: str) -> str:
    """The buyer's collective proceedings with their label: "Procédure collective : aucune"."""
    return _("Procédure collective : %(status)s") % {"status": display[:1].lower() + display[1:]}

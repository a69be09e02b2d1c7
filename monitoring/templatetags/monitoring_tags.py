"""A buyer's grade as the buyer pages show it: its meaning, date and source (DESIGN §6)."""

from __future__ import annotations

from django import template
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from monitoring import selectors
from portal.presentation import grade_label
from underwriting.models import Buyer

register = template.Library()


@register.simple_tag
def grade_as_of(buyer: Buyer) -> str:
    """ "note 5/10 (risque moyen), au 12/03/2026, source : Banque de France"; without a
    reported change, the grade alone."""
    label = grade_label(buyer.grade)
    change = selectors.grade_current(buyer=buyer)
    if change is None:
        return label
    day = date_format(change.effective_on, "SHORT_DATE_FORMAT")
    if change.source:
        return _("%(grade)s, au %(day)s, source : %(source)s") % {
            "grade": label,
            "day": day,
            "source": change.source,
        }
    return _("%(grade)s, au %(day)s") % {"grade": label, "day": day}

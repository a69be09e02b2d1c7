"""Expert insights on buyers, the arbiters' side: the "Publier une analyse" form of the buyer
risk file posts here. Readers see insights on the risk file, the wholesaler's buyer page and
the alert feed (`monitoring.selectors`)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from monitoring.models import ASSESSMENT_MAX_LENGTH, Outlook
from monitoring.services.insights import buyer_insight_publish
from portal import policy
from portal.errors import DomainError
from portal.forms import MoneyField, apply_domain_error, form_errors_as_messages
from portal.http import page_user
from underwriting.models import Buyer

if TYPE_CHECKING:  # a development dependency: only the type checker reads it
    from django_stubs_ext import StrOrPromise


def _amount_field(label: StrOrPromise) -> MoneyField:
    return MoneyField(label=label, required=False)


class InsightForm(forms.Form):
    """Parses the form; the rules (range, length) are the service's."""

    assessment = forms.CharField(
        label=gettext_lazy("Analyse"),
        max_length=ASSESSMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "Lue par chaque assuré exposé à cet acheteur et par ses courtiers : pas de note "
            "interne ici."
        ),
    )
    outlook = forms.ChoiceField(label=gettext_lazy("Perspective"), choices=Outlook.choices)
    recommended_min = _amount_field(gettext_lazy("Limite recommandée, minimum (€)"))
    recommended_max = _amount_field(gettext_lazy("Limite recommandée, maximum (€)"))


@policy.page_requires(policy.can_publish_insights)
@require_POST
def buyer_insight_publish_page(request: HttpRequest, buyer_id: UUID) -> HttpResponse:
    buyer = get_object_or_404(Buyer, pk=buyer_id)
    form = InsightForm(request.POST)
    if form.is_valid():
        try:
            buyer_insight_publish(buyer=buyer, actor=page_user(request), **form.cleaned_data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request, _("Analyse publiée : les assurés exposés à cet acheteur sont prévenus.")
            )
            return redirect("buyer_risk_file", buyer_id=buyer.pk)
    form_errors_as_messages(request, form)
    return redirect("buyer_risk_file", buyer_id=buyer.pk)

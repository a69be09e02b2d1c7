from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.premium import parse_month
from portal.errors import RuleViolation
from portal.forms import MoneyField, MoneyInput


class MonthInput(forms.TextInput):
    input_type = "month"


class BillingRunForm(forms.Form):
    month = forms.CharField(label=_("Mois à facturer"), widget=MonthInput)

    def clean_month(self) -> date:
        try:
            return parse_month(self.cleaned_data["month"])
        except RuleViolation as error:
            raise forms.ValidationError(error.message) from error


FULL = "1"
PARTIAL = "0"


class CreditNoteForm(forms.Form):
    """The explicit choice of `credit_note_issue`: the whole invoice, or an amount before tax.
    The confirmation page posts it back with `confirm=1` (not a field here, so a form shown
    again with its errors never carries a confirmation)."""

    full = forms.TypedChoiceField(
        label=_("Ce que l'avoir crédite"),
        choices=[
            (FULL, _("Avoir total")),
            # the amount's input follows this label on the page
            (PARTIAL, _("Avoir partiel d'un montant HT de")),
        ],
        coerce=lambda value: value == FULL,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choisissez l'avoir total ou un avoir partiel.")},
    )
    amount = MoneyField(
        label=_("Montant HT à créditer (EUR)"),
        min_value=Decimal("0.01"),
        required=False,
        widget=MoneyInput(attrs={"aria-label": _("Montant HT à créditer (EUR)")}),
    )
    reason = forms.CharField(
        label=_("Motif"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        full = data.get("full")
        if full is False and data.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", _("Indiquez le montant HT à créditer."))
        if full is True:
            data["amount"] = None  # the whole invoice: an amount typed before is not used
        return data


class PaymentForm(forms.Form):
    """A payment received on an invoice, typed by finance ops (`payment_record`)."""

    received_on = forms.DateField(
        label=_("Reçu le"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    amount = MoneyField(label=_("Montant reçu (€)"), min_value=Decimal("0.01"))
    reference = forms.CharField(
        label=_("Référence (virement, chèque)"), max_length=140, required=False
    )


class BankStatementForm(forms.Form):
    file = forms.FileField(
        label=_("Relevé bancaire (CSV)"),
        help_text=_(
            "Colonnes Date, Libellé et Montant (ou Crédit) ; le numéro de facture "
            "UP-AAAA-NNNNNN dans le libellé."
        ),
    )

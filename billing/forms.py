from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _


def parse_month(value: str) -> date:
    """`YYYY-MM` (the value of `<input type="month">`) as the first day of that month."""
    try:
        year, month = (int(part) for part in value.strip().split("-"))
        return date(year, month, 1)
    except (TypeError, ValueError) as error:
        raise forms.ValidationError(_("Mois attendu au format AAAA-MM.")) from error


class MonthInput(forms.TextInput):
    input_type = "month"


class BillingRunForm(forms.Form):
    month = forms.CharField(label=_("Mois à facturer"), widget=MonthInput)

    def clean_month(self) -> date:
        return parse_month(self.cleaned_data["month"])


class CreditNoteForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Montant HT à créditer (vide : toute la facture)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
    )
    reason = forms.CharField(
        label=_("Motif"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

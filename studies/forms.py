"""Forms of the study pages. They parse input; the rules live in the services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from portal.models import Organisation
from studies.models import LineVerdict
from studies.parsing import DEFAULT_LIMITS
from studies.selectors import SORTS, LineFilters
from studies.services import ProspectInput
from underwriting.forms import MoneyField

MAX_UPLOAD_BYTES = DEFAULT_LIMITS.max_bytes


class StudyStartForm(forms.Form):
    policyholder: forms.ModelChoiceField[Organisation] = forms.ModelChoiceField(
        label=_("Assuré"), queryset=Organisation.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, policyholders: QuerySet[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["policyholder"]).queryset = policyholders


class ProspectForm(forms.Form):
    name = forms.CharField(label=_("Raison sociale"), max_length=200)
    siren = forms.CharField(label=_("SIREN"), max_length=20)
    address = forms.CharField(
        label=_("Adresse"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    contact_name = forms.CharField(label=_("Nom du contact"), max_length=200)
    contact_email = forms.EmailField(label=_("E-mail du contact"))
    primary_insurer_name = forms.CharField(label=_("Assureur-crédit primaire"), max_length=120)
    primary_policy_number = forms.CharField(label=_("N° de police primaire"), max_length=60)

    def prospect_input(self) -> ProspectInput:
        data = self.cleaned_data
        return ProspectInput(
            name=data["name"],
            siren=data["siren"],
            address=data["address"],
            contact_name=data["contact_name"],
            contact_email=data["contact_email"],
            primary_insurer_name=data["primary_insurer_name"],
            primary_policy_number=data["primary_policy_number"],
        )


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("Liste d'acheteurs (CSV ou XLSX)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # Refused before a byte is read into memory (the parser refuses it too).
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("Le fichier dépasse %(limit)s Mo : découpez-le en plusieurs."),
                params={"limit": MAX_UPLOAD_BYTES // (1024 * 1024)},
                code="too_large",
            )
        return upload


SORT_LABELS = {
    "line": _("Ligne"),
    "name": _("Raison sociale"),
    "grade": _("Note croissante"),
    "-grade": _("Note décroissante"),
    "exposure": _("Encours croissant"),
    "-exposure": _("Encours décroissant"),
    "proposed": _("Proposition croissante"),
    "-proposed": _("Proposition décroissante"),
}


class LineFilterForm(forms.Form):
    verdict = forms.ChoiceField(
        label=_("Verdict"), required=False, choices=[("", _("Tous")), *LineVerdict.choices]
    )
    grade_min = forms.IntegerField(label=_("Note min."), required=False, min_value=0, max_value=10)
    grade_max = forms.IntegerField(label=_("Note max."), required=False, min_value=0, max_value=10)
    sort = forms.ChoiceField(
        label=_("Tri"),
        required=False,
        choices=[(key, SORT_LABELS.get(key, key)) for key in SORTS],
    )

    def filters(self) -> LineFilters:
        if not self.is_valid():
            return LineFilters()
        data = self.cleaned_data
        return LineFilters(
            verdict=data["verdict"] or "",
            grade_min=data["grade_min"],
            grade_max=data["grade_max"],
            sort=data["sort"] or "line",
        )


class LineAdjustForm(forms.Form):
    amount = MoneyField(label=_("Montant ajusté (€)"))
    reason = forms.CharField(label=_("Motif"), max_length=500)
    query = forms.CharField(required=False, widget=forms.HiddenInput)


class DeclineForm(forms.Form):
    note = forms.CharField(
        label=_("Motif du refus"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class CountersignForm(forms.Form):
    approve = forms.TypedChoiceField(
        label=_("Contre-signature"),
        choices=[("yes", _("Contre-signer et émettre le rapport")), ("no", _("Rejeter"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Commentaire (obligatoire pour un rejet)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

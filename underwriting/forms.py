"""Forms of the underwriting pages. They parse input; the rules live in the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from portal.forms import MoneyField as MoneyField
from portal.models import User
from portal.timeutils import business_today
from underwriting.models import DecisionOutcome, RequestReason, RequestStatus
from underwriting.services import RequestInput


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(**kwargs)


class BuyerSearchForm(forms.Form):
    q = forms.CharField(label=_("SIREN, SIRET, n° de TVA ou raison sociale"), max_length=200)


class BuyerCreateForm(forms.Form):
    identifier = forms.CharField(label=_("SIREN, SIRET ou n° de TVA"), max_length=40)
    name = forms.CharField(label=_("Raison sociale"), max_length=200, required=False)


class RequestForm(forms.Form):
    exposure = MoneyField(label=_("Encours sur l'acheteur (avec la nouvelle commande)"))
    primary_amount = MoneyField(label=_("Limite primaire (EUR)"), required=False)
    primary_percent = forms.DecimalField(
        label=_("ou limite primaire en % de l'encours"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    requested_top_up = MoneyField(label=_("Top-up demandé (EUR)"), required=False)
    wants_maximum = forms.BooleanField(label=_("Le maximum possible"), required=False)
    credit_term_days = forms.IntegerField(
        label=_("Durée de crédit (jours)"), min_value=0, max_value=720, initial=60
    )
    reason = forms.ChoiceField(label=_("Motif"), choices=RequestReason.choices)
    seasonal_until = forms.DateField(
        label=_("Fin de la limite saisonnière (facultatif)"), required=False, widget=DateInput()
    )
    comment = forms.CharField(
        label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("primary_amount") is None and data.get("primary_percent") is None:
            if "primary_amount" not in self.errors:
                self.add_error(
                    "primary_amount",
                    _("Indiquez la limite primaire, en montant ou en pourcentage de l'encours."),
                )
        if not data.get("wants_maximum") and data.get("requested_top_up") is None:
            if "requested_top_up" not in self.errors:
                self.add_error(
                    "requested_top_up",
                    _("Indiquez le top-up demandé, ou cochez « le maximum possible »."),
                )
        until = data.get("seasonal_until")
        if until is not None and until < business_today():
            self.add_error("seasonal_until", _("Cette date est passée."))
        return data

    def request_input(self) -> RequestInput:
        data = self.cleaned_data
        return RequestInput(
            exposure=data["exposure"],
            primary_amount=data.get("primary_amount"),
            primary_percent=data.get("primary_percent"),
            requested_top_up=data.get("requested_top_up"),
            wants_maximum=bool(data.get("wants_maximum")),
            credit_term_days=data.get("credit_term_days"),
        )


class CoverageForm(forms.Form):
    order_amount = MoneyField(label=_("Montant de la commande"))
    outstanding = MoneyField(label=_("Encours actuel (hors commande)"), required=False)


class PrimaryReportForm(forms.Form):
    primary_amount = MoneyField(label=_("Nouvelle limite primaire (EUR)"))
    effective_on = forms.DateField(label=_("À partir du"), widget=DateInput())
    note = forms.CharField(label=_("Commentaire"), required=False)


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Décision"), choices=DecisionOutcome.choices)
    amount = MoneyField(label=_("Montant accordé"), required=False)
    valid_from = forms.DateField(label=_("Valable à partir du"), widget=DateInput())
    valid_until = forms.DateField(
        label=_("Valable jusqu'au (facultatif)"), required=False, widget=DateInput()
    )
    rationale = forms.CharField(
        label=_("Note interne (jamais montrée au client)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Obligatoire pour un refus ou un accord partiel."),
    )
    client_message = forms.CharField(
        label=_("Message au client (facultatif)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ContractEndForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"),
        choices=[("terminate", _("Résilier")), ("suspend", _("Suspendre"))],
    )
    effective_on = forms.DateField(label=_("Fin de couverture à compter du"), widget=DateInput())
    reason = forms.CharField(label=_("Motif"), widget=forms.Textarea(attrs={"rows": 2}))


class CountersignForm(forms.Form):
    approve = forms.TypedChoiceField(
        label=_("Contre-signature"),
        choices=[("yes", _("Contre-signer")), ("no", _("Rejeter"))],
        coerce=lambda value: value == "yes",
    )
    note = forms.CharField(label=_("Commentaire"), required=False)


class AssignForm(forms.Form):
    arbiter: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("Arbitre"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args: Any, arbiters: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["arbiter"]).queryset = arbiters


class GuaranteeChangeForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Modification"),
        choices=[("reduce", _("Réduire")), ("cancel", _("Annuler"))],
    )
    amount = MoneyField(label=_("Nouveau montant (réduction)"), required=False)
    effective_on = forms.DateField(label=_("À partir du"), widget=DateInput())
    reason = forms.CharField(label=_("Motif"), widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "reduce" and data.get("amount") is None:
            self.add_error("amount", _("Indiquez le nouveau montant."))
        return data


QUEUE_ARBITER_ALL = "all"
QUEUE_ARBITER_NONE = "none"
QUEUE_ARBITER_ME = "me"


class QueueFilterForm(forms.Form):
    arbiter = forms.ChoiceField(label=_("Arbitre"), required=False)
    policyholder = forms.ChoiceField(label=_("Assuré"), required=False)
    grade_min = forms.IntegerField(label=_("Note min."), required=False, min_value=0, max_value=10)
    grade_max = forms.IntegerField(label=_("Note max."), required=False, min_value=0, max_value=10)
    amount_min = MoneyField(label=_("Montant min."), required=False)
    amount_max = MoneyField(label=_("Montant max."), required=False)
    reason = forms.ChoiceField(
        label=_("Motif"), required=False, choices=[("", "—"), *RequestReason.choices]
    )
    status = forms.ChoiceField(
        label=_("Statut"),
        required=False,
        choices=[
            ("", "—"),
            (RequestStatus.OPEN, RequestStatus.OPEN.label),
            (
                RequestStatus.AWAITING_COUNTERSIGNATURE,
                RequestStatus.AWAITING_COUNTERSIGNATURE.label,
            ),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, arbiters: list[Any], policyholders: list[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["arbiter"]).choices = [
            (QUEUE_ARBITER_ME, _("Mes demandes")),
            (QUEUE_ARBITER_ALL, _("Tous")),
            (QUEUE_ARBITER_NONE, _("Non attribuées")),
            *[(str(user.pk), str(user)) for user in arbiters],
        ]
        cast(forms.ChoiceField, self.fields["policyholder"]).choices = [
            ("", "—"),
            *[(str(org.pk), org.name) for org in policyholders],
        ]

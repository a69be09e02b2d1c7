"""Forms of the claims handler's pages: the queue's filters and one form per action on a claim.
They parse input; the rules live in `claims.services`."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from claims.models import ClaimStatus
from portal.models import User
from underwriting.forms import DateInput, MoneyField

# The queue's status filter: every claim, the open ones, one status, or (seniors and admins)
# the indemnities waiting for their countersignature.
STATUS_ALL = ""
STATUS_OPEN = "open"
STATUS_TO_COUNTERSIGN = "to_countersign"
# The handler filter.
HANDLER_ALL = ""
HANDLER_MINE = "mine"
HANDLER_NONE = "unassigned"


class ClaimQueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Statut"), required=False)
    handler = forms.ChoiceField(label=_("Gestionnaire"), required=False)
    q = forms.CharField(
        label=_("Recherche"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": _("n° de sinistre, acheteur, SIREN, assuré"), "type": "search"}
        ),
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(
        self, *args: Any, handlers: list[User], countersigner: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        statuses: list[tuple[str, Any]] = [
            (STATUS_ALL, _("Tous")),
            (STATUS_OPEN, _("En cours")),
        ]
        if countersigner:
            statuses.append((STATUS_TO_COUNTERSIGN, _("À contre-signer par moi")))
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            *statuses,
            *ClaimStatus.choices,
        ]
        cast(forms.ChoiceField, self.fields["handler"]).choices = [
            (HANDLER_ALL, _("Tous")),
            (HANDLER_MINE, _("Mes sinistres")),
            (HANDLER_NONE, _("Non attribués")),
            *[(str(user.pk), str(user)) for user in handlers],
        ]


# --- one form per action on a claim ---------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Commentaire (facultatif)"), required=False, max_length=1000)


class AssignForm(forms.Form):
    handler: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("Gestionnaire"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("— personne —"),
    )

    def __init__(self, *args: Any, handlers: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["handler"]).queryset = handlers


class BuyerPaymentForm(forms.Form):
    amount = MoneyField(label=_("Montant reçu"))
    received_on = forms.DateField(label=_("Reçu le"), widget=DateInput())
    note = forms.CharField(label=_("Commentaire (facultatif)"), required=False, max_length=200)


RecoveryForm = BuyerPaymentForm


class PrimarySettleForm(forms.Form):
    amount = MoneyField(label=_("Montant payé par le primaire"))
    settled_on = forms.DateField(label=_("Date du règlement"), widget=DateInput())
    note = forms.CharField(
        label=_("Commentaire (facultatif)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class PrimaryDeclineForm(forms.Form):
    settled_on = forms.DateField(label=_("Date du refus"), widget=DateInput())
    reason = forms.CharField(
        label=_("Motif du refus du primaire"), widget=forms.Textarea(attrs={"rows": 2})
    )


class EmptyForm(forms.Form):
    """Actions without input (compute, approve)."""


class CountersignForm(forms.Form):
    approve = forms.TypedChoiceField(
        label=_("Contre-signature"),
        choices=[("yes", _("Contre-signer")), ("no", _("Rejeter"))],
        coerce=lambda value: value == "yes",
    )
    note = forms.CharField(
        label=_("Commentaire (obligatoire pour un rejet)"), required=False, max_length=1000
    )


class PayForm(forms.Form):
    paid_on = forms.DateField(label=_("Payée le"), widget=DateInput())
    reference = forms.CharField(label=_("Référence du virement"), max_length=60)


class DeclineForm(forms.Form):
    reason = forms.CharField(label=_("Motif du refus"), widget=forms.Textarea(attrs={"rows": 2}))

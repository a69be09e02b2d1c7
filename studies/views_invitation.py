"""The prospect contact's invitation: the report, and its answer, from the link it was sent.

The link is the credential (a one-time token of the contact's account, which cannot sign in
yet); accepting sets the password, opens the account and activates the contract in one step.
"""

from __future__ import annotations

from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from portal.errors import DomainError, NotFound
from portal.forms import apply_domain_error
from portal.tenancy import tenant_scope
from studies import selectors, services
from studies.pdf import report_context


class InvitationForm(forms.Form):
    answer = forms.ChoiceField(
        choices=[("accept", gettext_lazy("Accepter")), ("decline", gettext_lazy("Refuser"))],
        widget=forms.HiddenInput,
    )
    password1 = forms.CharField(
        label=gettext_lazy("Choisissez votre mot de passe"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        required=False,
    )
    password2 = forms.CharField(
        label=gettext_lazy("Confirmez-le"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        required=False,
    )
    note = forms.CharField(
        label=gettext_lazy("Motif du refus (facultatif)"), required=False, max_length=1000
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("answer") == "accept":
            if not data.get("password1"):
                self.add_error("password1", _("Choisissez un mot de passe."))
            elif data.get("password1") != data.get("password2"):
                self.add_error("password2", _("Les deux mots de passe diffèrent."))
        return data


@never_cache
def study_invitation(request: HttpRequest, study_id: UUID, uidb64: str, token: str) -> HttpResponse:
    try:
        study, contact = services.study_invitation(study_id=study_id, uidb64=uidb64, token=token)
    except NotFound:
        raise Http404 from None
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["answer"] == "accept":
                user = services.study_accept_invitation(
                    study_id=study_id, uidb64=uidb64, token=token, password=data["password1"]
                )
            else:
                services.study_decline_invitation(
                    study_id=study_id, uidb64=uidb64, token=token, note=data["note"]
                )
        except NotFound:
            raise Http404 from None
        except DomainError as error:
            field = "password1" if error.field == "password" else error.field
            apply_domain_error(form, type(error)(error.message, field=field))
        else:
            if data["answer"] == "decline":
                messages.success(request, _("Votre refus est transmis à votre courtier. Merci."))
                return redirect("login")
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Étude acceptée : votre contrat est actif et vos garanties en vigueur.")
            )
            return redirect("guarantee_list")
    with tenant_scope([study.policyholder_id]):
        report = selectors.study_report(study=study)
        context = report_context(report)
    return render(
        request,
        "studies/invitation.html",
        {**context, "contact": contact, "form": form, "lines": report.lines[:200]},
    )

"""Two-factor sign-in pages: the code asked after the password, enrolment (QR code, secret,
first code, recovery codes), renewing the recovery codes, disabling, and an organisation's
requirement. The gate (`portal.two_factor_gate`) sends users here; these pages keep `next`."""

from __future__ import annotations

from urllib.parse import urlencode

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import policy, two_factor
from portal.errors import DomainError
from portal.forms import apply_domain_error
from portal.http import page_user
from portal.models import User
from portal.policy import page_requires


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


class EnrolForm(CodeForm):
    device = forms.IntegerField(widget=forms.HiddenInput)


class OrganisationTwoFactorForm(forms.Form):
    two_factor_required = forms.BooleanField(
        label=gettext_lazy("Exiger la double authentification de tous les utilisateurs"),
        required=False,
    )


def _next(request: HttpRequest) -> str:
    """Where to go once the code is given: `next` if it stays on this site, else home."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


def _is_verified(user: User) -> bool:
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified is not None and is_verified())


def _mark_verified(request: HttpRequest, device: object) -> None:
    django_otp.login(request, device)
    request.session[two_factor.SESSION_ENROLLED] = True


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The code page: after the password, a TOTP code or a recovery code."""
    user = page_user(request)
    if _is_verified(user):
        return redirect(_next(request))
    if not two_factor.is_enrolled(user):
        if policy.two_factor_required(user):
            return redirect(_with_next("two_factor", _next(request)))
        request.session[two_factor.SESSION_ENROLLED] = False
        return redirect(_next(request))
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.two_factor_verify(
                user=user, code=form.cleaned_data["code"], request=request
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            _mark_verified(request, device)
            if not isinstance(device, TOTPDevice):
                left = two_factor.recovery_codes_left(user)
                messages.warning(
                    request,
                    _(
                        "Code de secours utilisé : il vous en reste %(left)d. Renouvelez-les "
                        "depuis la page Double authentification."
                    )
                    % {"left": left},
                )
            return redirect(_next(request))
    return render(
        request,
        "portal/two_factor_verify.html",
        {"form": form, "next": _next(request)},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required
@require_GET
def two_factor_page(request: HttpRequest) -> HttpResponse:
    """Status when enrolled; otherwise the enrolment: QR code, secret, first code."""
    user = page_user(request)
    enrolled = two_factor.is_enrolled(user)
    if enrolled and not _is_verified(user):
        return redirect(_with_next("two_factor_verify", _next(request)))
    context: dict[str, object] = {
        "enrolled": enrolled,
        "required": policy.two_factor_required(user),
        "next": _next(request),
    }
    if enrolled:
        context["recovery_codes_left"] = two_factor.recovery_codes_left(user)
        context["disable_form"] = CodeForm()
    else:
        device = two_factor.totp_enrolment_start(user=user)
        context.update(_enrolment(device, EnrolForm(initial={"device": device.pk})))
    return render(request, "portal/two_factor.html", context)


def _enrolment(device: TOTPDevice, form: EnrolForm) -> dict[str, object]:
    # The template writes the device id itself: after a refused code it is the live device's.
    return {
        "form": form,
        "device_id": device.pk,
        "qr_svg": two_factor.totp_qr_svg(device),
        "secret": two_factor.totp_secret(device),
    }


@never_cache
@login_required
@require_POST
def two_factor_confirm(request: HttpRequest) -> HttpResponse:
    """The first code confirms the device; the recovery codes are shown once, here."""
    user = page_user(request)
    form = EnrolForm(request.POST)
    if form.is_valid():
        try:
            codes = two_factor.two_factor_enrol(
                user=user,
                device_id=form.cleaned_data["device"],
                code=form.cleaned_data["code"],
                request=request,
            )
        except DomainError as error:
            if error.code == "already_enrolled":
                return redirect("two_factor")
            apply_domain_error(form, error)
        else:
            device = TOTPDevice.objects.get(pk=form.cleaned_data["device"])
            _mark_verified(request, device)
            messages.success(request, _("Double authentification activée."))
            return _recovery_codes(request, codes)
    if two_factor.is_enrolled(user):
        return redirect("two_factor")
    device = two_factor.totp_enrolment_start(user=user)
    context = {
        "enrolled": False,
        "required": policy.two_factor_required(user),
        "next": _next(request),
        **_enrolment(device, form),
    }
    return render(request, "portal/two_factor.html", context, status=400)


def _recovery_codes(request: HttpRequest, codes: list[str]) -> HttpResponse:
    response = render(
        request,
        "portal/two_factor_recovery_codes.html",
        {"codes": codes, "next": _next(request)},
    )
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
@require_POST
def two_factor_recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes (shown once), from a verified session."""
    user = page_user(request)
    if not _is_verified(user):
        return redirect(_with_next("two_factor_verify", reverse("two_factor")))
    try:
        codes = two_factor.two_factor_recovery_codes_renew(user=user, request=request)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("two_factor")
    messages.success(request, _("Nouveaux codes de secours : les anciens ne marchent plus."))
    return _recovery_codes(request, codes)


@never_cache
@login_required
@require_POST
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    """Turn 2FA off, against a current code (for users who are not required to use it)."""
    user = page_user(request)
    if not _is_verified(user):
        return redirect(_with_next("two_factor_verify", reverse("two_factor")))
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            two_factor.two_factor_disable(
                user=user, code=form.cleaned_data["code"], request=request
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            request.session.pop(DEVICE_ID_SESSION_KEY, None)
            request.session[two_factor.SESSION_ENROLLED] = False
            messages.success(request, _("Double authentification désactivée."))
            return redirect("two_factor")
    context = {
        "enrolled": True,
        "required": policy.two_factor_required(user),
        "next": _next(request),
        "recovery_codes_left": two_factor.recovery_codes_left(user),
        "disable_form": form,
    }
    return render(request, "portal/two_factor.html", context, status=400)


@page_requires(policy.can_manage_own_two_factor_policy)
@require_http_methods(["GET", "POST"])
def organisation_two_factor(request: HttpRequest) -> HttpResponse:
    """A policyholder's admin requires (or not) 2FA of every user of the organisation."""
    user = page_user(request)
    organisation = user.organisation
    assert organisation is not None  # the policy answered for an organisation's admin
    form = OrganisationTwoFactorForm(
        request.POST if request.method == "POST" else None,
        initial={"two_factor_required": organisation.two_factor_required},
    )
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.organisation_two_factor_set(
                organisation_id=organisation.pk,
                required=form.cleaned_data["two_factor_required"],
                actor=user,
                request=request,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            if form.cleaned_data["two_factor_required"]:
                messages.success(
                    request,
                    _(
                        "Double authentification exigée : chaque utilisateur l'active à sa "
                        "prochaine page."
                    ),
                )
            else:
                messages.success(request, _("Double authentification facultative."))
            return redirect("organisation_two_factor")
    members = list(
        User.objects.filter(organisation=organisation, is_active=True).order_by(
            "last_name", "first_name", "email"
        )
    )
    enrolled = set(
        TOTPDevice.objects.filter(user__in=members, confirmed=True).values_list(
            "user_id", flat=True
        )
    )
    rows = [(member, member.pk in enrolled) for member in members]
    return render(
        request,
        "portal/organisation_two_factor.html",
        {"form": form, "organisation": organisation, "rows": rows},
        status=400 if form.errors else 200,
    )

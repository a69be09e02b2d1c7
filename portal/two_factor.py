"""Two-factor sign-in (django-otp): a TOTP app and ten recovery codes per user.

Who must use it is the policy's answer (`policy.two_factor_required`); a user who enrolled of
their own accord gives a code at every sign-in too. Each change and each code given is a
security event (`portal.security`). Wrong codes back off per device (django-otp's throttling:
1, 2, 4 ... seconds after each failure), so a six-digit code cannot be guessed.
"""

from __future__ import annotations

from base64 import b32encode
from typing import Any, NoReturn

import segno
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import policy
from portal.errors import Conflict, Forbidden, RuleViolation
from portal.models import Organisation, User
from portal.security import SecurityEvent, security_event_record

# What the gate says a signed-in user still owes.
CODE = "code"
ENROL = "enrol"
# Whether a user who is not required to use 2FA has enrolled, remembered for the session so that
# their pages cost no query (a sign-in recomputes it; enrolling or disabling here updates it).
SESSION_ENROLLED = "two_factor_enrolled"
TOTP_NAME = "Application TOTP"
RECOVERY_NAME = "Codes de secours"


def is_enrolled(user: User) -> bool:
    """A confirmed TOTP device: recovery codes only come with one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def step_owed(request: HttpRequest) -> str | None:
    """What the signed-in user of `request` must do before anything else: give a code (`CODE`),
    enrol (`ENROL`), or nothing (None)."""
    user: Any = request.user
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return None
    if policy.two_factor_required(user):
        return CODE if is_enrolled(user) else ENROL
    enrolled = request.session.get(SESSION_ENROLLED)
    if enrolled is None:
        enrolled = is_enrolled(user)
        request.session[SESSION_ENROLLED] = enrolled
    return CODE if enrolled else None


@receiver(user_logged_in, dispatch_uid="portal.two_factor_forget_enrolment")
def _forget_enrolment(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    # A new sign-in reads the enrolment afresh (it may have changed in another session).
    if request is not None and hasattr(request, "session"):
        request.session.pop(SESSION_ENROLLED, None)


# --- enrolment ------------------------------------------------------------------------------


def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed TOTP device the user is enrolling (the same one until it is confirmed)."""
    if is_enrolled(user):
        raise Conflict(_("La double authentification est déjà activée."), code="already_enrolled")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def totp_secret(device: TOTPDevice) -> str:
    """The secret in base32, for entering by hand in an authenticator app."""
    return b32encode(device.bin_key).decode("ascii")


def totp_qr_svg(device: TOTPDevice) -> str:
    """The device's `otpauth://` URL as an inline SVG QR code (drawn here: no CDN, no data:
    image for the CSP to refuse)."""
    qr = segno.make(device.config_url, error="m")
    return str(
        qr.svg_inline(
            scale=4,
            dark="#000",
            light="#fff",
            svgclass="qr-code",
            title=_("QR code à scanner avec votre application d'authentification"),
        )
    )


def two_factor_enrol(*, user: User, device_id: int, code: str, request: HttpRequest) -> list[str]:
    """Confirm the user's TOTP device with a first code; returns the new recovery codes (shown
    once)."""
    device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        if is_enrolled(user):
            raise Conflict(
                _("La double authentification est déjà activée."), code="already_enrolled"
            )
        raise RuleViolation(
            _("Cette activation a expiré : recommencez avec le nouveau QR code."), field="code"
        )
    _verify_on(device, code=code, user=user, request=request, field="code")
    with transaction.atomic():
        updated = TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True)
        if not updated:
            raise Conflict(
                _("La double authentification est déjà activée."), code="already_enrolled"
            )
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _recovery_codes_replace(user)
        security_event_record(
            action=SecurityEvent.TWO_FACTOR_ENROLLED,
            user=user,
            request=request,
            data={"device": device.persistent_id},
        )
    return codes


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def two_factor_recovery_codes_renew(*, user: User, request: HttpRequest | None) -> list[str]:
    """New recovery codes; the old ones stop working."""
    if not is_enrolled(user):
        raise Conflict(
            _("Activez d'abord la double authentification."), code="two_factor_not_enrolled"
        )
    codes = _recovery_codes_replace(user)
    security_event_record(action=SecurityEvent.RECOVERY_CODES_RENEWED, user=user, request=request)
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def two_factor_disable(*, user: User, code: str, request: HttpRequest | None) -> None:
    """Remove the user's devices, against a current code; never for a user who must use 2FA."""
    if policy.two_factor_required(user):
        raise Forbidden(
            _("La double authentification est obligatoire pour votre compte."),
            code="two_factor_required",
        )
    two_factor_verify(user=user, code=code, request=request, record_success=False)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        security_event_record(action=SecurityEvent.TWO_FACTOR_DISABLED, user=user, request=request)


# --- giving a code --------------------------------------------------------------------------


def normalised_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _is_totp_code(code: str) -> bool:
    return code.isdigit() and len(code) in (6, 8)


def two_factor_verify(
    *,
    user: User,
    code: str,
    request: HttpRequest | None,
    field: str = "code",
    record_success: bool = True,
) -> Device:
    """The confirmed device that accepts `code` (a TOTP code, or a recovery code, used up);
    a wrong code is recorded and refused on `field`."""
    code = normalised_code(code or "")
    model: type[TOTPDevice] | type[StaticDevice] = (
        TOTPDevice if _is_totp_code(code) else StaticDevice
    )
    device = model.objects.filter(user=user, confirmed=True).order_by("id").first()
    if device is None:
        if not is_enrolled(user):
            raise RuleViolation(
                _("La double authentification n'est pas activée pour ce compte."),
                field=field,
                code="two_factor_not_enrolled",
            )
        _refuse(user, request, field, kind=model.__name__, throttled=False)
    _verify_on(device, code=code, user=user, request=request, field=field)
    if record_success:
        if isinstance(device, StaticDevice):
            security_event_record(
                action=SecurityEvent.RECOVERY_CODE_USED,
                user=user,
                request=request,
                data={"left": recovery_codes_left(user)},
            )
        else:
            security_event_record(
                action=SecurityEvent.TWO_FACTOR_VERIFIED, user=user, request=request
            )
    return device


def _verify_on(
    device: TOTPDevice | StaticDevice,
    *,
    code: str,
    user: User,
    request: HttpRequest | None,
    field: str,
) -> None:
    code = normalised_code(code or "")
    with transaction.atomic():
        # Locked, so that two concurrent guesses cannot both skip the back-off.
        locked = type(device).objects.select_for_update().get(pk=device.pk)
        allowed, details = locked.verify_is_allowed()
        accepted = allowed and bool(code) and locked.verify_token(code)
    if accepted:
        return
    wait = 0
    if not allowed and details and details.get("locked_until"):
        wait = max(1, int((details["locked_until"] - timezone.now()).total_seconds()) + 1)
    _refuse(user, request, field, kind=type(device).__name__, throttled=not allowed, wait=wait)


def _refuse(
    user: User,
    request: HttpRequest | None,
    field: str,
    *,
    kind: str,
    throttled: bool,
    wait: int = 0,
) -> NoReturn:
    security_event_record(
        action=SecurityEvent.TWO_FACTOR_FAILED,
        user=user,
        request=request,
        data={"device": kind, "throttled": throttled},
    )
    if throttled:
        raise RuleViolation(
            ngettext(
                "Trop de codes erronés : réessayez dans %(seconds)d seconde.",
                "Trop de codes erronés : réessayez dans %(seconds)d secondes.",
                wait,
            )
            % {"seconds": wait},
            field=field,
            code="otp_throttled",
        )
    raise RuleViolation(
        _(
            "Code incorrect : saisissez les 6 chiffres affichés par votre application, "
            "ou un code de secours."
        ),
        field=field,
        code="otp_invalid",
    )


def api_token_two_factor_check(*, user: User, otp: str, request: HttpRequest | None) -> None:
    """An API token is issued against a code to every user who signs in with one."""
    required = policy.two_factor_required(user)
    enrolled = is_enrolled(user)
    if not required and not enrolled:
        return
    if not enrolled:
        raise RuleViolation(
            _(
                "Activez d'abord la double authentification en vous connectant dans le "
                "navigateur, puis donnez son code dans le champ otp."
            ),
            field="otp",
            code="two_factor_enrolment_required",
        )
    if not normalised_code(otp or ""):
        raise RuleViolation(
            _("Donnez le code de votre application d'authentification (ou un code de secours)."),
            field="otp",
            code="otp_required",
        )
    two_factor_verify(user=user, code=otp, request=request, field="otp")


# --- an organisation's policy ---------------------------------------------------------------


@transaction.atomic
def organisation_two_factor_set(
    *, organisation_id: Any, required: bool, actor: User, request: HttpRequest | None
) -> Organisation:
    """Require (or stop requiring) two-factor sign-in of every user of the organisation."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation_id)
    policy.require(policy.can_set_two_factor_policy(actor, organisation))
    if organisation.two_factor_required != required:
        organisation.two_factor_required = required
        organisation.save(update_fields=["two_factor_required"])
        two_factor_policy_record(organisation=organisation, actor=actor, request=request)
    return organisation


def two_factor_policy_record(
    *, organisation: Organisation, actor: User, request: HttpRequest | None
) -> None:
    """The security event of a changed organisation policy (the page and the admin)."""
    security_event_record(
        action=SecurityEvent.TWO_FACTOR_REQUIRED,
        user=actor,
        actor=actor,
        request=request,
        data={
            "organisation_id": str(organisation.pk),
            "organisation": organisation.name,
            "required": organisation.two_factor_required,
        },
    )

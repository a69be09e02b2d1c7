"""Signed-in test clients: a session for the pages, a token for the API.

A user who must sign in with a second factor (every insurer user, the users of an organisation
that requires it) gets a confirmed TOTP device with a known key and a session verified by it,
as `django_otp.login` leaves it after the code page: the tests are about what they do next.
"""

from __future__ import annotations

import time

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from portal import policy
from portal.models import User
from tests.support.factories import PASSWORD

__all__ = ["PASSWORD", "client_for", "otp_code", "token_client", "totp_device", "unverified_client"]

# A fixed key (hex, 20 bytes) so that a test or a browser can compute the codes.
TEST_TOTP_KEY = "3132333435363738393031323334353637383930"


def totp_device(user: User, *, key: str = TEST_TOTP_KEY) -> TOTPDevice:
    """The user's confirmed TOTP device (created with `key` if it has none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Test", key=key, confirmed=True)
    return device


def otp_code(device: TOTPDevice) -> str:
    """A code the device accepts now: the current step's, or the next one when the current
    step was used already (django-otp refuses a step twice); waits if it must."""
    device.refresh_from_db()
    while True:
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        now = totp.t()
        target = max(now, device.last_t + 1)
        if target <= now + device.tolerance:
            totp.time = time.time() + (target - now) * device.step
            return f"{totp.token():0{device.digits}d}"
        time.sleep(1)


def unverified_client(user: User) -> Client:
    """Signed in with the password only: the two-factor gate stands before every page."""
    client = Client()
    client.force_login(user)
    return client


def client_for(user: User) -> Client:
    client = unverified_client(user)
    current = User.objects.select_related("organisation").get(pk=user.pk)  # policy as of now
    if (
        policy.two_factor_required(current)
        or TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    ):
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
        session.save()
    return client


def token_client(user: User) -> Client:
    _, key = AuthToken.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {key}")

"""A forgotten password: throttled in the request, the e-mail sent by a worker.

The request does the same work whatever the address: count it, queue a task after commit,
answer with the same page. Whether an account exists is found out only inside the task, so
neither the response nor its timing tells an attacker anything. Over a throttle (per address,
per IP, each per `PASSWORD_RESET_THROTTLE_WINDOW_SECONDS`) the request is logged and nothing
is queued; the page is the same.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.template import loader
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from portal.kick import kick_after_commit

logger = logging.getLogger(__name__)

CACHE_PREFIX = "password-reset"
SUBJECT_TEMPLATE = "registration/password_reset_subject.txt"
BODY_TEMPLATE = "registration/password_reset_email.html"


def _hit(key: str, window: int) -> int:
    """Count one request in a fixed window that starts with the first one; the new count."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def _address_key(email: str) -> str:
    # Hashed: no address in the cache, and a bounded key whatever was typed.
    digest = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    return f"{CACHE_PREFIX}:address:{digest}"


def password_reset_throttled(*, email: str, ip: str) -> bool:
    """Count this request against its address and its IP; whether either is over its limit."""
    window = settings.PASSWORD_RESET_THROTTLE_WINDOW_SECONDS
    per_address = _hit(_address_key(email), window)
    per_ip = _hit(f"{CACHE_PREFIX}:ip:{ip}", window)
    return (
        per_address > settings.PASSWORD_RESET_THROTTLE_PER_ADDRESS
        or per_ip > settings.PASSWORD_RESET_THROTTLE_PER_IP
    )


def password_reset_request(*, email: str, ip: str) -> None:
    """A reset asked for `email` from `ip`: queue its e-mail after commit, unless throttled."""
    if password_reset_throttled(email=email, ip=ip):
        logger.warning("password reset throttled (ip %s)", ip)
        return
    from portal.tasks import password_reset_send  # tasks import this module

    # In the background after commit: the page answers at once whatever the broker does (an
    # outage must not make the answer differ from the one to an unknown address). Not in the
    # outbox, on purpose (module docstring): a kick lost to an outage loses this e-mail, and the
    # user asks again.
    kick_after_commit(password_reset_send, email=email)


def password_reset_send_email(*, email: str) -> int:
    """Send the reset link to each active account of `email` with a usable password (Django's
    rule); the number of e-mails sent. A send error propagates, for the task to retry."""
    sent = 0
    for user in PasswordResetForm().get_users(email):
        context = {
            "email": user.email,
            "user": user,
            "uid": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
            "site_url": settings.SITE_URL,
        }
        subject = "".join(loader.render_to_string(SUBJECT_TEMPLATE, context).splitlines())
        body = loader.render_to_string(BODY_TEMPLATE, context)
        EmailMultiAlternatives(subject, body, None, [user.email]).send()
        sent += 1
    return sent

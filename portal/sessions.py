"""Browser sessions a user can see and end, and the insurer staff's session limits.

A `UserSession` row is written at sign-in, deleted at sign-out, and adopted lazily for a
signed-in session that has none (one opened before this existed). Ending a session goes through
the configured session engine's `SessionStore`, so its cookie stops working at once; the row
only describes it.

The session itself carries when it started and when it was last seen (epoch seconds), so the
middleware checks the insurer staff's idle timeout and absolute lifetime without a query; it
writes `last_seen_at` at most once a minute (one UPDATE).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from portal import policy
from portal.models import User, UserSession
from portal.security import SecurityEvent, client_address, client_agent, security_event_record

# Kept in the session itself (JSON: epoch seconds, and the key the row was written under).
STARTED = "_up_started"
SEEN = "_up_seen"
TRACKED_KEY = "_up_key"
# `last_seen_at` (and SEEN) are refreshed at most this often.
TOUCH_SECONDS = 60
# The page lists at most this many sessions (each is checked against the engine).
LIST_LIMIT = 50
# An insurer session's row in the engine outlives its idle timeout by this much, so that the
# middleware, not the engine, ends it and can say why.
ENGINE_EXPIRY_MARGIN_SECONDS = 15 * 60

IDLE = "idle"
LIFETIME = "lifetime"


def session_store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key)
    return store


def _now() -> float:
    return timezone.now().timestamp()


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _limits_apply(user: Any) -> bool:
    return policy.is_insurer_staff(user)


def _engine_expiry(request: HttpRequest, user: Any) -> None:
    """Insurer staff: the engine drops an idle session by itself too (defence in depth)."""
    if _limits_apply(user):
        idle = int(settings.INSURER_SESSION_IDLE_MINUTES) * 60
        request.session.set_expiry(idle + ENGINE_EXPIRY_MARGIN_SECONDS)


# --- tracking -------------------------------------------------------------------------------


def session_track(*, request: HttpRequest, user: User, started: float | None = None) -> None:
    """Describe the request's session (just signed in, or adopted) by a row and its markers."""
    session = request.session
    if session.session_key is None:
        session.save()
    key = str(session.session_key)
    now = _now()
    started = now if started is None else started
    UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "created_at": _at(started),
            "last_seen_at": _at(now),
            "ip": client_address(request),
            "user_agent": client_agent(request),
        },
    )
    session[STARTED] = started
    session[SEEN] = now
    session[TRACKED_KEY] = key
    _engine_expiry(request, user)


def session_forget(*, session_key: str | None) -> None:
    """The row of a session that just ended (signed out)."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def _end(session_key: str) -> None:
    session_store().delete(session_key)
    UserSession.objects.filter(session_key=session_key).delete()


def _end_current(request: HttpRequest) -> None:
    """End the request's own session without `logout()` (whose signal records a sign-out)."""
    session_forget(session_key=request.session.session_key)
    request.session.flush()
    request.user = AnonymousUser()


# --- what the sessions page shows and does ----------------------------------------------------


def _alive(row: UserSession, user: User) -> bool:
    """Whether the engine still holds this session, signed in as `user` with the current
    password (a password change or the engine's own expiry ends a session without a row
    change)."""
    data = session_store(row.session_key).load()
    if str(data.get(SESSION_KEY, "")) != str(user.pk):
        return False
    stored_hash = str(data.get(HASH_SESSION_KEY, ""))
    hashes = [user.get_session_auth_hash()]
    hashes += [
        user._get_session_auth_hash(secret=secret)  # type: ignore[attr-defined]
        for secret in settings.SECRET_KEY_FALLBACKS
    ]
    return any(constant_time_compare(stored_hash, candidate) for candidate in hashes)


def active_sessions(*, user: User) -> list[UserSession]:
    """The user's sessions the engine still holds, most recently used first; rows of sessions
    that ended without a sign-out are dropped on the way."""
    rows = list(UserSession.objects.filter(user=user).order_by("-last_seen_at")[:LIST_LIMIT])
    alive = [row for row in rows if _alive(row, user)]
    dead = [row.pk for row in rows if row not in alive]
    if dead:
        UserSession.objects.filter(pk__in=dead).delete()
    return alive


REVOKED_CURRENT, REVOKED_OTHER = "current", "other"


def session_revoke(*, user: User, session_id: Any, request: HttpRequest) -> str:
    """End one of `user`'s own sessions by its public id: REVOKED_CURRENT (the request's own),
    REVOKED_OTHER, or "" when it is not one of theirs."""
    row = UserSession.objects.filter(user=user, pk=session_id).first()
    if row is None:
        return ""
    current = row.session_key == request.session.session_key
    security_event_record(
        action=SecurityEvent.SESSION_REVOKED,
        user=user,
        request=request,
        data={"session": str(row.pk), "session_ip": row.ip, "current": current},
    )
    if current:
        _end_current(request)
        return REVOKED_CURRENT
    _end(row.session_key)
    return REVOKED_OTHER


def sessions_end_all(*, user: User, request: HttpRequest, keep_current: bool) -> int:
    """Sign `user` out of every browser (or every other one); the number of sessions ended.
    API tokens are not touched: the tokens page revokes those."""
    current = request.session.session_key
    keys = [
        key
        for key in UserSession.objects.filter(user=user).values_list("session_key", flat=True)
        if key != current
    ]
    for key in keys:
        _end(key)
    security_event_record(
        action=SecurityEvent.SIGNED_OUT_EVERYWHERE,
        user=user,
        request=request,
        data={
            "sessions_ended": len(keys) + (0 if keep_current else 1),
            "kept_current": keep_current,
        },
    )
    if not keep_current:
        _end_current(request)
        return len(keys) + 1
    return len(keys)


def sessions_end_for_user(*, user_id: int) -> int:
    """End every session of a user (deactivated): no request, no event of its own."""
    keys = list(UserSession.objects.filter(user_id=user_id).values_list("session_key", flat=True))
    for key in keys:
        _end(key)
    return len(keys)


# --- the middleware -----------------------------------------------------------------------------


def expiry_reason(*, user: Any, started: float, seen: float, now: float) -> str:
    """Why an insurer staff member's session is over (IDLE, LIFETIME), or "" while it is not."""
    if not _limits_apply(user):
        return ""
    if now - started > float(settings.INSURER_SESSION_MAX_HOURS) * 3600:
        return LIFETIME
    if now - seen > float(settings.INSURER_SESSION_IDLE_MINUTES) * 60:
        return IDLE
    return ""


def _expired_message(reason: str) -> str:
    if reason == LIFETIME:
        return _("Votre session a atteint sa durée maximale de %(hours)s h : reconnectez-vous.") % {
            "hours": settings.INSURER_SESSION_MAX_HOURS
        }
    return _(
        "Votre session a expiré après %(minutes)s minutes d'inactivité : reconnectez-vous."
    ) % {"minutes": settings.INSURER_SESSION_IDLE_MINUTES}


class SessionActivityMiddleware:
    """Keeps `UserSession` rows current and ends insurer staff sessions that have been idle too
    long or open too long. No query on most requests (the session and the user with its
    organisation are loaded anyway, for the tenant scope); one UPDATE a minute per session.
    Requests authenticated by an API token are not session requests: skipped."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_AUTHORIZATION" in request.META or not hasattr(request, "session"):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        session = request.session
        now = _now()
        started, seen = session.get(STARTED), session.get(SEEN)
        if not isinstance(started, int | float) or not isinstance(seen, int | float):
            session_track(request=request, user=user)  # a session signed in before tracking
            return self.get_response(request)
        if session.get(TRACKED_KEY) != session.session_key:
            self._rekey(request, user, started)
        reason = expiry_reason(user=user, started=started, seen=seen, now=now)
        if reason:
            return self._expire(request, user, reason)
        if now - seen >= TOUCH_SECONDS:
            self._touch(request, user, started, now)
        return self.get_response(request)

    def _rekey(self, request: HttpRequest, user: Any, started: float) -> None:
        """The session got a new key (a password change cycles it): the row follows."""
        old, new = request.session.get(TRACKED_KEY), request.session.session_key
        moved = UserSession.objects.filter(session_key=old, user=user).update(session_key=new)
        if moved:
            request.session[TRACKED_KEY] = new
        else:
            session_track(request=request, user=user, started=started)

    def _touch(self, request: HttpRequest, user: Any, started: float, now: float) -> None:
        updated = UserSession.objects.filter(session_key=request.session.session_key).update(
            last_seen_at=_at(now), ip=client_address(request)
        )
        if not updated:  # the row went (deleted by hand): describe the session again
            session_track(request=request, user=user, started=started)
            return
        request.session[SEEN] = now
        _engine_expiry(request, user)

    def _expire(self, request: HttpRequest, user: Any, reason: str) -> HttpResponse:
        security_event_record(
            action=SecurityEvent.SESSION_EXPIRED,
            user=user,
            request=request,
            data={"cause": reason},
        )
        _end_current(request)
        if request.path.startswith("/api/"):
            return self.get_response(request)  # anonymous now: the API answers 401/403
        messages.warning(request, _expired_message(reason))
        response = redirect_to_login(request.get_full_path())
        if request.headers.get("HX-Request") == "true":  # django-htmx runs after this
            # htmx would swap the sign-in page into a fragment: send the whole page there.
            response["HX-Redirect"] = response["Location"]
        return response

"""Active sessions: listed, ended one by one or everywhere (the ended browser is signed out at
its next request), and the insurer staff's idle timeout and lifetime, which policyholders do
not have. Time is moved by writing the session's own timestamps, never by sleeping."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from pytest_django import Settings

from portal.models import AuditEvent, User, UserSession
from portal.security import SecurityEvent
from portal.sessions import SEEN, STARTED, TRACKED_KEY
from tests.support.clients import client_for
from tests.support.factories import PASSWORD
from tests.support.world import World

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def browser(user: User, agent: str = FIREFOX, ip: str = "203.0.113.7") -> Client:
    """A browser signed in through the sign-in form."""
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def signed_in(client: Client, url: str = "/portal/") -> bool:
    response = client.get(url)
    if response.status_code == 302:
        assert "/login/" in response["Location"]
        return False
    assert response.status_code == 200
    return True


def shift(client: Client, **seconds_ago: float) -> None:
    """Make the session look started / last seen that many seconds ago."""
    session = client.session
    now = timezone.now().timestamp()
    for name, ago in seconds_ago.items():
        session[{"started": STARTED, "seen": SEEN}[name]] = now - ago
    session.save()


def latest(action: SecurityEvent) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action).order_by("-at", "-pk").first()
    assert event is not None, action
    return event


# --- the page ---------------------------------------------------------------------------------


def test_the_page_lists_each_browser_in_plain_words_and_marks_this_one(world: World) -> None:
    user = world.alice.credit_manager
    laptop = browser(user, FIREFOX, "203.0.113.7")
    browser(user, SAFARI, "198.51.100.4")
    page = laptop.get("/account/sessions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="session-row"') == 2
    assert "Firefox sur Windows" in html and "Safari sur iPhone" in html
    assert "198.51.100.4" in html
    assert html.count('data-testid="this-session"') == 1
    assert "pas les jetons d&#x27;API" in html or "pas les jetons d'API" in html


def test_a_session_signed_in_without_the_form_is_adopted_at_its_next_request(
    world: World,
) -> None:
    user = world.alice.credit_manager
    client = client_for(user)  # force_login, as most tests do
    UserSession.objects.filter(user=user).delete()
    session = client.session
    for key in (STARTED, SEEN, TRACKED_KEY):
        session.pop(key, None)
    session.save()
    assert signed_in(client)
    row = UserSession.objects.get(user=user)
    assert row.session_key == client.session.session_key


def test_revoking_a_session_signs_that_browser_out_at_its_next_request(world: World) -> None:
    user = world.alice.credit_manager
    laptop, phone = browser(user, FIREFOX), browser(user, SAFARI)
    phone_row = UserSession.objects.get(session_key=phone.session.session_key)
    response = laptop.post(f"/account/sessions/{phone_row.pk}/revoke/")
    assert response.status_code == 302
    assert not signed_in(phone)
    assert signed_in(laptop)
    event = latest(SecurityEvent.SESSION_REVOKED)
    assert (event.object_id, event.data["current"]) == (str(user.pk), False)
    assert list(UserSession.objects.filter(user=user)) == [
        UserSession.objects.get(session_key=laptop.session.session_key)
    ]


def test_revoking_ones_own_session_signs_out(world: World) -> None:
    user = world.alice.credit_manager
    laptop = browser(user)
    row = UserSession.objects.get(session_key=laptop.session.session_key)
    response = laptop.post(f"/account/sessions/{row.pk}/revoke/")
    assert response["Location"] == "/login/"
    assert not signed_in(laptop)


def test_an_outsider_cannot_revoke_someone_elses_session(world: World) -> None:
    victim = browser(world.alice.credit_manager)
    row = UserSession.objects.get(session_key=victim.session.session_key)
    for outsider in (world.bob.credit_manager, world.broker_user, world.staff["admin"]):
        assert client_for(outsider).post(f"/account/sessions/{row.pk}/revoke/").status_code == 404
    assert signed_in(victim)


def test_a_session_ended_elsewhere_is_not_listed(world: World) -> None:
    user = world.alice.credit_manager
    laptop, phone = browser(user), browser(user, SAFARI)
    phone.post("/logout/")
    other = browser(user, SAFARI)
    # The engine lost this one without a sign-out (expired, cleared): its row is stale.
    from portal.sessions import session_store

    session_store().delete(other.session.session_key)
    html = laptop.get("/account/sessions/").content.decode()
    assert html.count('data-testid="session-row"') == 1
    assert UserSession.objects.filter(user=user).count() == 1


def test_signing_out_everywhere_ends_every_session_but_not_the_api_tokens(world: World) -> None:
    user = world.alice.credit_manager
    laptop, phone = browser(user), browser(user, SAFARI)
    _, key = AuthToken.objects.create(user=user)
    response = laptop.post("/account/sessions/end/", {"scope": "all"})
    assert response["Location"] == "/login/"
    assert not signed_in(laptop)
    assert not signed_in(phone)
    assert not UserSession.objects.filter(user=user).exists()
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/me/").status_code == 200
    event = latest(SecurityEvent.SIGNED_OUT_EVERYWHERE)
    assert event.data["sessions_ended"] == 2
    assert not AuditEvent.objects.filter(action=SecurityEvent.SIGNED_OUT).exists()


def test_ending_the_other_sessions_keeps_this_one(world: World) -> None:
    user = world.alice.credit_manager
    laptop, phone, tablet = browser(user), browser(user, SAFARI), browser(user, SAFARI)
    laptop.post("/account/sessions/end/", {"scope": "others"})
    assert signed_in(laptop)
    assert not signed_in(phone) and not signed_in(tablet)
    assert latest(SecurityEvent.SIGNED_OUT_EVERYWHERE).data == {
        **latest(SecurityEvent.SIGNED_OUT_EVERYWHERE).data,
        "sessions_ended": 2,
        "kept_current": True,
    }


def test_another_users_sessions_are_untouched_by_signing_out_everywhere(world: World) -> None:
    alice = browser(world.alice.credit_manager)
    colleague = browser(world.alice.finance)
    alice.post("/account/sessions/end/", {"scope": "all"})
    assert signed_in(colleague)


# --- last seen, at most once a minute -----------------------------------------------------------


def _session_queries(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries if "portal_usersession" in q["sql"]]


def test_last_seen_is_written_at_most_once_a_minute(world: World) -> None:
    user = world.alice.credit_manager
    client = browser(user)
    with CaptureQueriesContext(connection) as fresh:
        assert signed_in(client)
    assert _session_queries(fresh) == []
    shift(client, seen=61)
    with CaptureQueriesContext(connection) as stale:
        assert signed_in(client)
    assert len(_session_queries(stale)) == 1
    row = UserSession.objects.get(session_key=client.session.session_key)
    assert (timezone.now() - row.last_seen_at).total_seconds() < 5


# --- insurer staff: idle timeout and lifetime -------------------------------------------------


@pytest.mark.parametrize(
    ("ago", "cause", "words"),
    [
        ({"seen": 31 * 60}, "idle", "inactivité"),
        ({"started": 10 * 3600 + 1}, "lifetime", "durée maximale"),
    ],
)
def test_an_insurer_session_ends_when_idle_or_too_old_and_says_why(
    world: World, ago: dict[str, Any], cause: str, words: str
) -> None:
    arbiter = world.staff["arbiter"]
    client = client_for(arbiter)
    assert signed_in(client, "/backoffice/")
    key = client.session.session_key
    shift(client, **ago)
    response = client.get("/backoffice/?page=2")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/backoffice/%3Fpage%3D2"
    login_page = client.get(response["Location"]).content.decode()
    assert words in login_page
    assert not signed_in(client, "/backoffice/")
    assert not UserSession.objects.filter(session_key=key).exists()
    event = latest(SecurityEvent.SESSION_EXPIRED)
    assert (event.object_id, event.data["cause"]) == (str(arbiter.pk), cause)


def test_an_insurer_session_within_its_limits_goes_on(world: World) -> None:
    client = client_for(world.staff["arbiter"])
    shift(client, seen=29 * 60, started=9 * 3600)
    assert signed_in(client, "/backoffice/")


def test_the_limits_come_from_the_settings(world: World, settings: Settings) -> None:
    settings.INSURER_SESSION_IDLE_MINUTES = 5
    client = client_for(world.staff["claims_handler"])
    shift(client, seen=6 * 60)
    assert not signed_in(client, "/backoffice/")


def test_an_expired_htmx_request_sends_the_whole_page_to_sign_in(world: World) -> None:
    client = client_for(world.staff["arbiter"])
    shift(client, seen=31 * 60)
    response = client.get("/backoffice/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith("/login/?next=")


def test_an_expired_api_session_call_is_answered_as_anonymous(world: World) -> None:
    client = client_for(world.staff["arbiter"])
    shift(client, seen=31 * 60)
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert latest(SecurityEvent.SESSION_EXPIRED).data["cause"] == "idle"


def test_policyholders_and_brokers_have_no_idle_timeout_or_lifetime(world: World) -> None:
    for user, url in ((world.alice.credit_manager, "/portal/"), (world.broker_user, "/broker/")):
        client = browser(user)
        shift(client, seen=5 * 3600, started=7 * 3600)
        assert signed_in(client, url)
    assert not AuditEvent.objects.filter(action=SecurityEvent.SESSION_EXPIRED).exists()


def test_api_token_calls_skip_the_session_checks(world: World) -> None:
    _, key = AuthToken.objects.create(user=world.staff["arbiter"])
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    with CaptureQueriesContext(connection) as context:
        assert api.get("/api/v1/me/").status_code == 200
    assert _session_queries(context) == []

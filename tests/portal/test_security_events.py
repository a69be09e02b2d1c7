"""Each security event is recorded by doing the real thing: signing in through the form, a wrong
password, tokens created and revoked from the API and the page, a password change, a role change,
a deactivation, a mandate changed (by the admin, named as the actor), a password reset request."""

from __future__ import annotations

import json
from datetime import date

from django.test import Client
from knox.models import AuthToken

from portal.models import AuditEvent, Mandate, Role, User
from portal.security import SecurityEvent
from portal.security_receivers import mark_actor
from tests.support.clients import client_for
from tests.support.factories import PASSWORD
from tests.support.world import World

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def events(action: SecurityEvent) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("at", "pk"))


def one(action: SecurityEvent) -> AuditEvent:
    found = events(action)
    assert len(found) == 1, [event.data for event in found]
    return found[0]


def sign_in(user: User, password: str = PASSWORD, client: Client | None = None) -> Client:
    client = client or Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="203.0.113.7")
    client.post("/login/", {"username": user.username, "password": password})
    return client


def test_signing_in_through_the_form_records_who_from_where(world: World) -> None:
    user = world.alice.credit_manager
    client = sign_in(user)
    assert client.get("/portal/").status_code == 200
    event = one(SecurityEvent.SIGNED_IN)
    assert (event.object_id, event.actor_id) == (str(user.pk), user.pk)
    assert event.data["ip"] == "203.0.113.7"
    assert "Firefox" in event.data["user_agent"]


def test_a_wrong_password_records_the_username_tried_never_the_password(world: World) -> None:
    user = world.alice.credit_manager
    client = sign_in(user, password="Not-the-password-42")
    assert "_auth_user_id" not in client.session
    event = one(SecurityEvent.SIGN_IN_FAILED)
    assert event.object_id == str(user.pk)
    assert event.actor_id is None  # whoever typed it is not known to be the account's owner
    assert event.data["username"] == user.username
    assert "Not-the-password-42" not in json.dumps(event.data) + event.reason


def test_a_sign_in_with_an_unknown_username_names_no_account(world: World) -> None:
    Client().post("/login/", {"username": "nobody@nowhere.test", "password": "x"})
    event = one(SecurityEvent.SIGN_IN_FAILED)
    assert (event.object_id, event.actor_id) == ("", None)
    assert event.data["username"] == "nobody@nowhere.test"


def test_a_lockout_is_recorded_once_the_failure_limit_is_reached(
    world: World, settings: object
) -> None:
    user = world.alice.credit_manager
    client = Client()
    for _ in range(5):  # AXES_FAILURE_LIMIT
        client.post("/login/", {"username": user.username, "password": "wrong"})
    event = one(SecurityEvent.SIGN_IN_LOCKED_OUT)
    assert (event.object_id, event.data["username"]) == (str(user.pk), user.username)


def test_signing_out_is_recorded_and_forgets_the_session(world: World) -> None:
    user = world.alice.credit_manager
    client = sign_in(user)
    client.post("/logout/")
    assert one(SecurityEvent.SIGNED_OUT).object_id == str(user.pk)
    assert not user.browser_sessions.exists()


def test_tokens_created_and_revoked_from_the_api_are_recorded(world: World) -> None:
    user = world.alice.credit_manager
    anonymous = Client(REMOTE_ADDR="198.51.100.9")
    response = anonymous.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    token = response.json()["token"]
    created = one(SecurityEvent.TOKEN_CREATED)
    stored = AuthToken.objects.get(user=user)
    assert (created.object_id, created.data["ip"]) == (str(user.pk), "198.51.100.9")
    assert created.data["token"] == stored.token_key
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    revoked = one(SecurityEvent.TOKEN_REVOKED)
    assert (revoked.actor_id, revoked.data["token"]) == (user.pk, stored.token_key)

    _, key = AuthToken.objects.create(user=user)
    assert (
        Client(HTTP_AUTHORIZATION=f"Token {key}").post("/api/v1/auth/logout-all/").status_code
        == 204
    )
    everything = one(SecurityEvent.TOKENS_REVOKED)
    assert (everything.actor_id, everything.data["revoked"]) == (user.pk, 1)


def test_tokens_revoked_from_the_page_are_recorded(world: World) -> None:
    user = world.alice.credit_manager
    first, _ = AuthToken.objects.create(user=user)
    AuthToken.objects.create(user=user)
    client = client_for(user)
    client.post(f"/account/tokens/{first.token_key}/revoke/")
    assert one(SecurityEvent.TOKEN_REVOKED).data["token"] == first.token_key
    client.post("/account/tokens/revoke-all/")
    assert one(SecurityEvent.TOKENS_REVOKED).data["revoked"] == 1


def test_a_password_change_is_recorded_with_the_tokens_it_revoked(world: World) -> None:
    user = world.alice.credit_manager
    AuthToken.objects.create(user=user)
    user.set_password("A-new-long-passw0rd")
    user.save()
    assert one(SecurityEvent.PASSWORD_CHANGED).object_id == str(user.pk)
    assert one(SecurityEvent.TOKENS_REVOKED).data["revoked"] == 1


def test_a_deactivation_is_recorded_and_ends_the_users_sessions(world: World) -> None:
    user = world.alice.credit_manager
    client = sign_in(user)
    user.is_active = False
    user.save()
    assert one(SecurityEvent.USER_DEACTIVATED).object_id == str(user.pk)
    assert not user.browser_sessions.exists()
    assert client.get("/portal/").status_code == 302
    user.is_active = True
    user.save(update_fields=["is_active"])
    assert one(SecurityEvent.USER_ACTIVATED).object_id == str(user.pk)


def test_a_role_change_is_recorded_with_before_and_after(world: World) -> None:
    user = world.alice.credit_manager
    user.role = Role.ORG_ADMIN
    user.save()
    event = one(SecurityEvent.ROLE_CHANGED)
    assert event.data["before"] == Role.CREDIT_MANAGER
    assert event.data["after"] == Role.ORG_ADMIN
    assert event.actor_id is None  # saved outside the admin: who did it is not known
    user.first_name = "Alice"
    user.save()
    assert len(events(SecurityEvent.ROLE_CHANGED)) == 1  # other fields are not a role change


def test_a_role_change_from_the_admin_names_the_admin(world: World) -> None:
    from django.test import RequestFactory

    admin = world.staff["admin"]
    user = world.alice.credit_manager
    request = RequestFactory().post("/admin/", REMOTE_ADDR="192.0.2.1")
    request.user = admin
    user.role = Role.FINANCE
    mark_actor(user, request)
    user.save()
    event = one(SecurityEvent.ROLE_CHANGED)
    assert (event.actor_id, event.object_id, event.data["ip"]) == (
        admin.pk,
        str(user.pk),
        "192.0.2.1",
    )


def test_mandate_changes_are_recorded_and_the_admin_is_named(world: World) -> None:
    admin = world.staff["admin"]
    admin.is_superuser = admin.is_staff = True
    admin.save()
    client = client_for(admin)
    response = client.post(
        "/admin/portal/mandate/add/",
        {
            "broker": str(world.broker.pk),
            "policyholder": str(world.bob.organisation.pk),
            "starts_on": "2026-01-01",
            "ends_on": "",
        },
    )
    assert response.status_code == 302, response.content
    mandate = Mandate.objects.get(broker=world.broker, policyholder=world.bob.organisation)
    created = events(SecurityEvent.MANDATE_CHANGED)[-1]
    assert (created.actor_id, created.data["change"]) == (admin.pk, "created")
    assert created.data["policyholder"] == str(world.bob.organisation)

    mandate.ends_on = date(2026, 6, 30)
    mandate.save()  # outside the admin: no actor known
    changed = events(SecurityEvent.MANDATE_CHANGED)[-1]
    assert (changed.actor_id, changed.data["change"]) == (None, "dates")
    assert changed.data["before"]["ends_on"] == ""
    assert changed.data["ends_on"] == "2026-06-30"

    before = len(events(SecurityEvent.MANDATE_CHANGED))
    mandate.save()  # nothing changed: nothing recorded
    assert len(events(SecurityEvent.MANDATE_CHANGED)) == before

    response = client.post(f"/admin/portal/mandate/{mandate.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    deleted = events(SecurityEvent.MANDATE_CHANGED)[-1]
    assert (deleted.actor_id, deleted.data["change"]) == (admin.pk, "deleted")


def test_a_password_reset_request_is_recorded_without_the_address_or_the_account(
    world: World,
) -> None:
    user = world.alice.credit_manager
    Client(REMOTE_ADDR="203.0.113.8").post("/password-reset/", {"email": user.email})
    Client(REMOTE_ADDR="203.0.113.8").post("/password-reset/", {"email": "ghost@nowhere.test"})
    known, unknown = events(SecurityEvent.PASSWORD_RESET_REQUESTED)
    for event in (known, unknown):
        assert (event.object_id, event.actor_id) == ("", None)
        assert event.data["ip"] == "203.0.113.8"
    assert user.email not in json.dumps(known.data)
    assert set(known.data) == set(unknown.data)  # the two rows cannot be told apart

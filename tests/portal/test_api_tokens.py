"""API tokens (django-rest-knox): hashed, expiring, revocable one by one or all at once, from the
API or the tokens page; a password change or a deactivation revokes them all."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken

from portal.models import Role, User
from tests.support.clients import client_for
from tests.support.factories import PASSWORD
from tests.support.world import World

NEW_PASSWORD = "Another-long-passw0rd"


def _sign_in(user: User) -> str:
    response = Client().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["expiry"]
    token: str = body["token"]
    return token


def _api(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def _works(token: str) -> bool:
    status = _api(token).get("/api/v1/me/").status_code
    assert status in (200, 401)
    return status == 200


def test_a_token_works_and_expires_after_the_configured_time(world: World) -> None:
    token = _sign_in(world.alice.credit_manager)
    assert token.startswith("up_")
    assert _works(token)
    stored = AuthToken.objects.get(user=world.alice.credit_manager)
    assert stored.expiry is not None
    assert timedelta(days=29) < stored.expiry - timezone.now() <= timedelta(days=30)


def test_an_expired_token_is_refused(world: World) -> None:
    token = _sign_in(world.alice.credit_manager)
    AuthToken.objects.filter(user=world.alice.credit_manager).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    response = _api(token).get("/api/v1/me/")
    assert response.status_code == 401
    assert not AuthToken.objects.filter(user=world.alice.credit_manager).exists()


def test_tokens_are_stored_hashed(world: World) -> None:
    token = _sign_in(world.alice.credit_manager)
    stored = AuthToken.objects.get(user=world.alice.credit_manager)
    values = [str(value) for value in AuthToken.objects.values_list().get(pk=stored.pk)]
    assert token not in values
    assert all(token not in value for value in values)


def test_logout_revokes_this_token_only(world: World) -> None:
    user = world.alice.credit_manager
    phone, laptop = _sign_in(user), _sign_in(user)
    assert _api(phone).post("/api/v1/auth/logout/").status_code == 204
    assert not _works(phone)
    assert _works(laptop)


def test_logout_all_revokes_every_token_of_the_user_only(world: World) -> None:
    user = world.alice.credit_manager
    phone, laptop = _sign_in(user), _sign_in(user)
    other = _sign_in(world.bob.credit_manager)
    assert _api(phone).post("/api/v1/auth/logout-all/").status_code == 204
    assert not _works(phone) and not _works(laptop)
    assert _works(other)


def test_the_tokens_page_lists_only_the_users_own_tokens_never_the_key(world: World) -> None:
    user = world.alice.credit_manager
    mine = _sign_in(user)
    theirs = _sign_in(world.bob.credit_manager)
    page = client_for(user).get("/account/tokens/")
    assert page.status_code == 200
    html = page.content.decode()
    assert mine[:15] in html and mine not in html
    assert theirs[:15] not in html
    assert "Révoquer" in html and "Tout révoquer" in html


def test_the_tokens_page_needs_a_sign_in(db: None) -> None:
    response = Client().get("/account/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_tokens_page_revokes_one_token_by_post_and_not_another_users(world: World) -> None:
    user = world.alice.credit_manager
    first, second = _sign_in(user), _sign_in(user)
    theirs = _sign_in(world.bob.credit_manager)
    client = client_for(user)
    assert client.get(f"/account/tokens/{first[:15]}/revoke/").status_code == 405
    assert client.post(f"/account/tokens/{theirs[:15]}/revoke/").status_code == 404
    assert _works(theirs)
    assert client.post(f"/account/tokens/{first[:15]}/revoke/").status_code == 302
    assert not _works(first)
    assert _works(second)


def test_the_tokens_page_revokes_all_the_users_tokens(world: World) -> None:
    user = world.alice.credit_manager
    first, second = _sign_in(user), _sign_in(user)
    theirs = _sign_in(world.bob.credit_manager)
    assert client_for(user).post("/account/tokens/revoke-all/").status_code == 302
    assert not _works(first) and not _works(second)
    assert _works(theirs)


def test_a_password_change_revokes_every_token(world: World) -> None:
    user = world.alice.credit_manager
    token, other = _sign_in(user), _sign_in(world.bob.credit_manager)
    user.set_password(NEW_PASSWORD)
    user.save()
    assert not _works(token)
    assert _works(other)


def test_a_password_reset_revokes_every_token(world: World) -> None:
    user = world.alice.credit_manager
    token = _sign_in(user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    client = Client()
    form = client.get(f"/reset/{uid}/{default_token_generator.make_token(user)}/", follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert not _works(token)


def test_a_password_change_in_the_admin_revokes_every_token(world: World) -> None:
    user = world.alice.credit_manager
    token = _sign_in(user)
    response = client_for(world.staff[Role.ADMIN]).post(
        f"/admin/portal/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not _works(token)


def test_deactivation_revokes_every_token(world: World) -> None:
    user = world.alice.credit_manager
    token = _sign_in(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert not AuthToken.objects.filter(user=user).exists()
    user.is_active = True
    user.save(update_fields=["is_active"])
    assert not _works(token)


def test_an_unrelated_save_keeps_the_tokens(world: World) -> None:
    user = world.alice.credit_manager
    token = _sign_in(user)
    user.first_name = "Alice"
    user.save()
    user.save(update_fields=["last_login"])
    assert _works(token)

"""Error pages are the platform's own: its layout and language, the menu for a signed-in user,
a way home and a way back; the API keeps its JSON error body; the 500 page asks nothing of the
database, which may be what failed."""

from __future__ import annotations

from typing import cast

import pytest
from django.core.exceptions import PermissionDenied
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import path, reverse
from django.utils.functional import SimpleLazyObject
from pytest_django import Settings

from portal import views_errors
from portal.models import User
from tests.support.clients import client_for
from tests.support.world import World
from unlockplus import urls as platform_urls


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def _refused(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


# This module is the URL configuration of the tests that need a failing page.
handler400 = platform_urls.handler400
handler403 = platform_urls.handler403
handler404 = platform_urls.handler404
handler500 = platform_urls.handler500
urlpatterns = [
    path("test-boom/", _boom),
    path("api/v1/test-boom/", _boom),
    path("test-refused/", _refused),
    *platform_urls.urlpatterns,
]


@pytest.fixture
def failing_pages(settings: Settings) -> None:
    settings.ROOT_URLCONF = __name__


def english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


def in_layout(html: str) -> bool:
    return 'class="topbar"' in html and 'data-testid="error-page"' in html


def test_a_missing_page_is_a_404_in_the_layout_with_the_menu_and_ways_back(world: World) -> None:
    client = client_for(world.alice.credit_manager)

    response = client.get("/no-such-page/", HTTP_REFERER="http://testserver/portal/")

    html = response.content.decode()
    assert response.status_code == 404
    assert in_layout(html)
    assert '<html lang="fr">' in html
    assert "Page introuvable" in html
    assert 'class="mainnav"' in html  # the menu of a signed-in user
    assert 'href="http://testserver/portal/" data-testid="error-back"' in html
    assert "Not Found" not in html  # not Django's bare page


def test_an_object_outside_my_scope_is_the_same_404_page(world: World) -> None:
    bobs = reverse("contract_detail", args=[world.bob.contract.pk])
    response = client_for(world.alice.credit_manager).get(bobs)

    assert response.status_code == 404
    assert in_layout(response.content.decode())


def test_the_404_page_is_in_english_when_the_user_chose_english(world: World) -> None:
    response = english(client_for(world.alice.credit_manager)).get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert in_layout(html)


def test_an_anonymous_visitor_gets_the_layout_without_the_menu(db: None) -> None:
    response = Client().get("/no-such-page/")

    html = response.content.decode()
    assert response.status_code == 404
    assert in_layout(html)
    assert 'class="mainnav"' not in html
    assert 'data-testid="error-back"' not in html  # no page to go back to


def test_the_api_keeps_its_json_404(world: World) -> None:
    response = client_for(world.alice.credit_manager).get("/api/v1/no-such-endpoint/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_a_refused_page_is_a_403_in_the_layout(world: World, failing_pages: None) -> None:
    response = client_for(world.alice.credit_manager).get("/test-refused/")

    assert response.status_code == 403
    html = response.content.decode()
    assert in_layout(html)
    assert "Accès refusé" in html
    assert 'class="mainnav"' in html


def test_a_form_with_a_stale_csrf_token_is_a_403_in_the_layout(world: World) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403
    html = response.content.decode()
    assert in_layout(html)
    assert "Formulaire expiré" in html
    assert "CSRF verification failed" not in html


def test_a_request_for_an_unknown_host_is_a_400_in_the_layout(db: None) -> None:
    response = Client().get("/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    html = response.content.decode()
    assert in_layout(html)
    assert "Requête invalide" in html


def test_a_server_error_is_a_500_in_the_layout_and_the_language(
    world: World, failing_pages: None
) -> None:
    french = Client(raise_request_exception=False)
    french.force_login(world.alice.credit_manager)
    response = french.get("/test-boom/")

    assert response.status_code == 500
    html = response.content.decode()
    assert in_layout(html)
    assert '<html lang="fr">' in html
    assert "Erreur du serveur" in html
    assert 'data-testid="error-home"' in html

    response = english(Client(raise_request_exception=False)).get("/test-boom/")
    assert response.status_code == 500
    assert '<html lang="en">' in response.content.decode()


def test_the_api_keeps_its_json_500(db: None, failing_pages: None) -> None:
    response = Client(raise_request_exception=False).get("/api/v1/test-boom/")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"


def test_the_500_page_renders_with_the_database_down(world: World) -> None:
    def refuse(*args: object) -> None:
        raise OperationalError("the database is down")

    request = RequestFactory().get("/portal/")
    # As the middleware leaves it: a user loaded on first use, which would need the database.
    user_id = world.alice.credit_manager.pk
    request.user = cast(User, SimpleLazyObject(lambda: User.objects.get(pk=user_id)))
    with connection.execute_wrapper(refuse):
        response = views_errors.server_error(request)

    assert response.status_code == 500
    assert in_layout(response.content.decode())


def test_the_sign_in_lockout_is_a_429_in_the_layout(world: World) -> None:
    client = Client()
    user = world.alice.credit_manager
    for _ in range(5):  # AXES_FAILURE_LIMIT
        client.post("/login/", {"username": user.username, "password": "wrong"})

    locked = client.post("/login/", {"username": user.username, "password": "wrong"})

    assert locked.status_code == 429
    html = locked.content.decode()
    assert in_layout(html)
    assert "Trop de tentatives" in html
    assert 'data-testid="error-home"' in html

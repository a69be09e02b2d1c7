"""The layout every page shares: the favicon, and the account menu, which offers the API only
to those who use it."""

from __future__ import annotations

from django.test import Client
from knox.models import AuthToken

from tests.support.clients import client_for
from tests.support.world import World


def test_the_favicon_is_served_and_browsers_asking_for_favicon_ico_find_it(db: None) -> None:
    client = Client()
    page = client.get("/login/").content.decode()
    assert 'rel="icon"' in page and "favicon" in page

    redirect = client.get("/favicon.ico")
    assert redirect.status_code == 302
    assert redirect["Location"].endswith(".svg")


def test_the_api_is_not_in_the_menus_of_a_user_without_api_tokens(world: World) -> None:
    html = client_for(world.alice.credit_manager).get("/portal/").content.decode()

    assert 'data-testid="account-menu"' in html
    assert "/api/docs/" not in html
    assert 'data-testid="nav-api-tokens"' not in html


def test_a_user_with_an_api_token_finds_the_api_in_the_account_menu(world: World) -> None:
    user = world.alice.credit_manager
    AuthToken.objects.create(user=user)

    html = client_for(user).get("/portal/").content.decode()

    menu = html[html.index('data-testid="account-menu"') : html.index("</details>")]
    assert 'href="/api/docs/"' in menu
    assert 'data-testid="nav-api-tokens"' in menu
    main_menu = html[html.index('class="mainnav"') : html.index("</nav>")]
    assert "/api/docs/" not in main_menu

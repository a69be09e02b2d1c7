"""The API schema and its documentation are served, Swagger UI from our own static files."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from pytest_django.live_server_helper import LiveServer

from tests.support.browser import sign_in
from tests.support.clients import client_for
from tests.support.factories import PASSWORD
from tests.support.world import World

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

REFERENCE = re.compile(rb"""(?:src|href)=["']([^"']+)["']""")


def test_the_api_schema_and_docs_are_served(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/contracts/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_the_docs_page_loads_only_our_own_static_files_and_script(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert b"<script>" not in page.content  # an inline script would be blocked by the CSP
    references = [url.decode() for url in REFERENCE.findall(page.content)]
    assert references
    for url in references:
        assert not re.match(r"^(https?:)?//", url), f"{url} is loaded from another host"
        assert url.startswith(("/static/", "/api/docs/")), url
    static = [url for url in references if url.startswith("/static/")]
    assert any(url.endswith("swagger-ui-bundle.js") for url in static)
    assert any(url.endswith("swagger-ui.css") for url in static)
    anonymous = Client()  # whitenoise serves the static files to anyone, from the finders
    for url in static:
        response = anonymous.get(url)
        assert response.status_code == 200, url
        assert response.getvalue(), url
    [init_script] = [url for url in references if url.startswith("/api/docs/")]
    script = client.get(init_script)
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_the_api_in_chromium_without_a_csp_violation(
    world: World, live_server: LiveServer, browser_page: Page
) -> None:
    page = browser_page
    base = live_server.url
    errors: list[str] = []

    def keep_errors(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", keep_errors)
    sign_in(page, base, world.alice.credit_manager.username, PASSWORD)
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Unlock Plus API")
    assert not [error for error in errors if "Content Security Policy" in error], errors

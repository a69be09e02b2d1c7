"""The interface speaks French by default and English on request."""

from __future__ import annotations

from tests.support.clients import client_for
from tests.support.world import World


def test_the_interface_is_french_by_default_and_english_on_request(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    page = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "Tableau de bord" in page.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/portal/"})
    assert "Dashboard" in client.get("/portal/").content.decode()

"""The API schema and its documentation are served."""

from __future__ import annotations

from tests.support.clients import client_for
from tests.support.world import World


def test_the_api_schema_and_docs_are_served(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/contracts/" in schema.content
    assert client.get("/api/docs/").status_code == 200

"""The API lists' query parameters are declared filters (issue 12, finding 4): in the schema, and
a bad value is a 400 in the one error body, naming the parameter; free text has a length limit;
the schema declares the `Error` answers of every operation (finding 5)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from tests.support.clients import token_client
from tests.support.underwriting import objects_for
from tests.support.world import World

BAD_VALUES = [
    ("/api/v1/guarantee-requests/", "status", "perhaps"),
    ("/api/v1/guarantee-requests/", "reason", "x"),
    ("/api/v1/guarantee-requests/", "buyer", "notauuid"),
    ("/api/v1/guarantee-requests/", "contract", ""),
    ("/api/v1/guarantee-requests/", "assigned_to", "me\n"),
    ("/api/v1/guarantee-requests/", "assigned_to", "²"),
    ("/api/v1/guarantee-requests/", "ordering", "oldest"),
    ("/api/v1/guarantees/", "in_force", "perhaps"),
    ("/api/v1/guarantees/", "buyer", ""),
    ("/api/v1/invoices/", "month", "2026-10\n"),
    ("/api/v1/invoices/", "month", "2026-13"),
    ("/api/v1/invoices/export/", "month", "October"),
    ("/api/v1/claims/", "status", "lost"),
    ("/api/v1/claims/", "contract", "x"),
    ("/api/v1/studies/", "status", "x"),
    ("/api/v1/studies/", "policyholder", "x"),
    ("/api/v1/alerts/", "buyer", "x"),
    ("/api/v1/insights/", "buyer", "x"),
    ("/api/v1/buyers/", "q", "a\x00b"),
    ("/api/v1/buyers/", "q", "x" * 201),
]


def _error(answer: Any, status: int = 400) -> dict[str, Any]:
    assert answer.status_code == status, answer.content
    body: dict[str, Any] = answer.json()
    assert body["code"] and body["detail"], body
    return body


@pytest.mark.parametrize(("path", "name", "value"), BAD_VALUES)
def test_a_bad_query_parameter_is_a_400_naming_it(
    world: World, path: str, name: str, value: str
) -> None:
    client = token_client(world.alice.credit_manager)
    body = _error(client.get(path, {name: value}))
    assert body["field"] == name
    assert body[name]  # and its messages under its name, as DRF gives them


def test_the_filters_keep_their_meaning(world: World) -> None:
    objects = objects_for(world, world.alice)
    client = token_client(world.alice.credit_manager)
    buyer = str(objects.buyer.pk)
    found = client.get("/api/v1/guarantees/", {"buyer": buyer, "in_force": "true"}).json()
    assert [row["id"] for row in found["results"]] == [str(objects.guarantee.pk)]
    pending = client.get("/api/v1/guarantee-requests/", {"status": "open"}).json()
    assert str(objects.request.pk) in {row["id"] for row in pending["results"]}
    other_buyer = client.get("/api/v1/guarantee-requests/", {"buyer": buyer}).json()
    assert str(objects.request.pk) not in {row["id"] for row in other_buyer["results"]}
    assert client.get("/api/v1/guarantee-requests/", {"assigned_to": "none"}).status_code == 200


def test_a_filter_does_not_reach_into_another_tenant(world: World) -> None:
    objects = objects_for(world, world.alice)
    client = token_client(world.bob.credit_manager)
    answer = client.get("/api/v1/guarantees/", {"buyer": str(objects.buyer.pk)}).json()
    assert answer["count"] == 0


def test_a_detail_ignores_the_list_filters(world: World) -> None:
    objects = objects_for(world, world.alice)
    client = token_client(world.alice.credit_manager)
    answer = client.get(f"/api/v1/guarantees/{objects.guarantee.pk}/", {"buyer": "x"})
    assert answer.status_code == 200


def test_a_note_longer_than_the_limit_is_a_400_naming_it(world: World) -> None:
    objects = objects_for(world, world.alice)
    client = token_client(world.staff["arbiter"])
    answer = client.post(
        f"/api/v1/guarantee-requests/{objects.request.pk}/decide/",
        {"outcome": "refused", "rationale": "x" * 5001},
        content_type="application/json",
    )
    assert _error(answer)["field"] == "rationale"


def test_every_error_has_the_one_body(world: World) -> None:
    assert _error(Client().get("/api/v1/guarantees/"), 401)["code"] == "not_authenticated"
    client = token_client(world.alice.credit_manager)
    missing = _error(client.get("/api/v1/billing-runs/00000000-0000-0000-0000-000000000000/"), 404)
    assert missing["code"] == "not_found" and "BillingRun" not in missing["detail"]
    listed = client.post(
        f"/api/v1/claims/{objects_for(world, world.alice).request.pk}/invoices/",
        [{}],
        content_type="application/json",
    )
    assert listed.status_code == 404  # not alice's claim: found nowhere, before the body


def test_the_schema_declares_the_errors_and_the_filters() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"code", "detail"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            declared = operation["responses"]
            for status in ("400", "404", "409", "429"):
                content = declared[status]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (method, path, status)
            if path != "/api/v1/auth/token/":
                assert "401" in declared, (method, path)
    parameters = {
        parameter["name"]
        for parameter in schema["paths"]["/api/v1/guarantee-requests/"]["get"]["parameters"]
    }
    assert {"status", "buyer", "contract", "reason", "assigned_to", "ordering"} <= parameters

"""Bad query parameters are the caller's error, never a server error (issue 12, finding 4): each
of the inputs a fuzzer sent gets a 4xx (a 400 naming the parameter on the API, the page with
its form error or its default), for a wholesaler, an arbiter and finance ops."""

from __future__ import annotations

import pytest

from tests.support.clients import client_for
from tests.support.world import World

PROBES = [
    "/api/v1/guarantee-requests/?buyer=notauuid",
    "/api/v1/guarantee-requests/?contract=x",
    "/api/v1/guarantee-requests/?assigned_to=%C2%B2",
    "/api/v1/guarantees/?buyer=notauuid",
    "/api/v1/guarantees/?contract=x",
    "/api/v1/guarantees/?in_force=perhaps",
    "/api/v1/invoices/?month=2026-10%0A",
    "/requests/?buyer=notauuid",
    "/requests/?q=a%00b",
    "/guarantees/?buyer=notauuid",
    "/guarantees/?q=a%00b",
    "/backoffice/queue/?assigned_to=%C2%B2",
    "/backoffice/queue/?q=a%00b",
    "/invoices/?month=2026-10%0A",
    "/claims/?q=a%00b",
    "/alerts/?page=abc",
    "/conversations/?q=a%00b",
]


@pytest.mark.parametrize("url", PROBES)
def test_bad_query_parameters_never_give_a_server_error(world: World, url: str) -> None:
    for user in (world.alice.credit_manager, world.staff["arbiter"], world.staff["finance_ops"]):
        assert client_for(user).get(url).status_code < 500, (url, user.username)


@pytest.mark.parametrize("name", ["buyer", "contract"])
def test_the_guarantees_api_names_the_bad_parameter(world: World, name: str) -> None:
    answer = client_for(world.alice.credit_manager).get(f"/api/v1/guarantees/?{name}=x")
    assert answer.status_code == 400
    assert name in answer.json()  # DRF names the parameter: {"buyer": ["…"]}

"""The API: same rules, same scope, idempotent creation, the arbiter's actions, coverage."""

from __future__ import annotations

from tests.support.clients import client_for, token_client
from tests.support.factories import BuyerFactory
from tests.support.scopes import scope_of
from tests.support.world import World
from underwriting.models import Buyer, GuaranteeRequest

SEED = {
    "exposure": "100000",
    "primary_amount": "40000",
    "requested_top_up": "40000",
    "credit_term_days": 60,
    "reason": "new_order",
}


def test_a_retried_post_with_the_same_idempotency_key_creates_one_request(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    body = {**SEED, "buyer": str(BuyerFactory.create().pk)}
    first = client.post(
        "/api/v1/guarantee-requests/",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="order-4711",
    )
    again = client.post(
        "/api/v1/guarantee-requests/",
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="order-4711",
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    with scope_of(world.alice):
        assert GuaranteeRequest.objects.count() == 1
    other = client.post(
        "/api/v1/guarantee-requests/",
        {**body, "requested_top_up": "30000"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="order-4711",
    )
    assert other.status_code == 409


def test_a_breach_answers_400_with_the_rule_and_the_largest_top_up(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    answer = client.post(
        "/api/v1/guarantee-requests/",
        {**SEED, "requested_top_up": "80000", "buyer": str(BuyerFactory.create().pk)},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert answer.json()["rule"] == "exposure"
    assert answer.json()["max_top_up"] == "60000.00"
    assert answer.json()["field"] == "requested_top_up"


def test_bad_input_names_the_field(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    answer = client.post(
        "/api/v1/guarantee-requests/",
        {**SEED, "exposure": "beaucoup", "buyer_identifier": "123456789"},
        content_type="application/json",
    )
    assert answer.status_code == 400 and "exposure" in answer.json()
    invalid_siren = client.post(
        "/api/v1/guarantee-requests/",
        {**SEED, "buyer_identifier": "123456789"},
        content_type="application/json",
    )
    assert invalid_siren.status_code == 400
    assert "Luhn" in invalid_siren.json()["buyer_identifier"][0]


def test_an_unknown_valid_siren_creates_the_buyer_and_money_is_never_a_float(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    answer = client.post(
        "/api/v1/guarantee-requests/",
        {**SEED, "buyer_identifier": "732 829 320", "buyer_name": "Nouveau Revendeur"},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["buyer"]["siren"] == "732829320"
    assert answer.json()["requested_top_up"] == "40000.00"
    assert Buyer.objects.filter(siren="732829320").exists()


def test_the_limits_endpoint_gives_the_seed_example(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    answer = client.post(
        "/api/v1/guarantee-requests/limits/",
        {
            "exposure": "100000",
            "primary_percent": "40",
            "credit_term_days": 60,
            "buyer": str(BuyerFactory.create().pk),
        },
        content_type="application/json",
    ).json()
    assert answer["max_top_up"] == "60000.00" and answer["rule"] == "exposure"


def test_the_arbiter_decides_and_the_coverage_check_answers(world: World) -> None:
    buyer = BuyerFactory.create()
    wholesaler = token_client(world.alice.credit_manager)
    created = wholesaler.post(
        "/api/v1/guarantee-requests/",
        {**SEED, "buyer": str(buyer.pk)},
        content_type="application/json",
    ).json()
    # A wholesaler cannot decide: the action does not exist for it.
    assert (
        wholesaler.post(
            f"/api/v1/guarantee-requests/{created['id']}/decide/",
            {"outcome": "approved"},
            content_type="application/json",
        ).status_code
        == 404
    )
    arbiter = world.staff["senior_arbiter"]
    queue = token_client(arbiter).get("/api/v1/guarantee-requests/?status=open&ordering=due")
    assert [row["id"] for row in queue.json()["results"]] == [created["id"]]
    decided = token_client(arbiter).post(
        f"/api/v1/guarantee-requests/{created['id']}/decide/",
        {"outcome": "approved"},
        content_type="application/json",
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    again = token_client(arbiter).post(
        f"/api/v1/guarantee-requests/{created['id']}/decide/",
        {"outcome": "refused", "rationale": "x"},
        content_type="application/json",
    )
    assert again.status_code == 409
    coverage = wholesaler.get(f"/api/v1/coverage/?buyer={buyer.pk}&order_amount=75000").json()
    assert coverage["total"] == "80000.00" and coverage["fits"] is True
    assert coverage["headroom"] == "5000.00"
    # Bob's coverage on the same buyer is his own: nothing.
    bob = (
        token_client(world.bob.credit_manager)
        .get(f"/api/v1/coverage/?buyer={buyer.pk}&order_amount=1")
        .json()
    )
    assert bob["total"] == "0.00" and bob["fits"] is False
    in_force = wholesaler.get("/api/v1/guarantees/?in_force=true").json()
    assert [row["total_cover"] for row in in_force["results"]] == ["80000.00"]


def test_bob_cannot_use_alices_contract(world: World) -> None:
    answer = token_client(world.bob.credit_manager).post(
        "/api/v1/guarantee-requests/",
        {**SEED, "buyer": str(BuyerFactory.create().pk), "contract": str(world.alice.contract.pk)},
        content_type="application/json",
    )
    assert answer.status_code == 400 and "contract" in answer.json()


def test_finance_users_read_but_do_not_submit(world: World) -> None:
    answer = token_client(world.alice.finance).post(
        "/api/v1/guarantee-requests/",
        {**SEED, "buyer": str(BuyerFactory.create().pk)},
        content_type="application/json",
    )
    assert answer.status_code == 404
    assert token_client(world.alice.finance).get("/api/v1/guarantee-requests/").status_code == 200


def test_the_broker_submits_for_its_mandated_policyholder(world: World) -> None:
    answer = token_client(world.broker_user).post(
        "/api/v1/guarantee-requests/",
        {**SEED, "buyer": str(BuyerFactory.create().pk), "contract": str(world.alice.contract.pk)},
        content_type="application/json",
    )
    assert answer.status_code == 201
    assert answer.json()["policyholder"] == str(world.alice.organisation.pk)


def test_the_schema_and_docs_are_served(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/guarantee-requests/" in schema.content
    assert b"/api/v1/coverage/" in schema.content


def test_searching_the_buyer_registry_is_for_those_who_look_up_buyers(world: World) -> None:
    buyer = BuyerFactory.create(name="Registre Recherché")
    for user in (world.alice.credit_manager, world.broker_user, world.staff["finance_ops"]):
        answer = token_client(user).get("/api/v1/buyers/", {"q": "Registre"})
        assert answer.status_code == 200 and answer.json()["results"][0]["id"] == str(buyer.pk)
    # A policyholder's finance user neither adds nor looks up buyers (DESIGN §3).
    assert token_client(world.alice.finance).get("/api/v1/buyers/", {"q": "Re"}).status_code == 404

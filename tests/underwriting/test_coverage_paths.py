"""The order-time coverage check answers as the pages' own check does, on its lean path (the
usual call: a token and well-formed parameters) and through DRF (everything else), within the
same tenant rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from portal.timeutils import business_today
from tests.support.clients import token_client
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.scopes import scope_of
from tests.support.world import Tenant, World
from underwriting import selectors
from underwriting.models import Buyer, Contract, GuaranteeChange
from underwriting.serializers import CoverageSerializer


def period(contract: Contract, buyer: Buyer, amount: str, starts: int, ends: int | None) -> None:
    """A period from `starts` days from today to `ends` (excluded; None: open-ended)."""
    today = business_today()
    GuaranteeFactory.create(
        contract=contract,
        buyer=buyer,
        amount=Decimal(amount),
        primary_amount=Decimal("50000"),
        exposure=Decimal("150000"),
        period=DateRange(
            today + timedelta(days=starts),
            None if ends is None else today + timedelta(days=ends),
            "[)",
        ),
        change=GuaranteeChange.GRANT if starts < 0 else GuaranteeChange.REDUCTION,
    )


def pages_answer(tenant: Tenant, buyer: Buyer, order: str, outstanding: str) -> dict[str, Any]:
    """What the pages' check (the ORM path, `selectors.coverage_check`) says, serialized."""
    with scope_of(tenant):
        coverage = selectors.coverage_check(
            contract=tenant.contract,
            buyer=buyer,
            order_amount=Decimal(order),
            outstanding=Decimal(outstanding),
        )
    return dict(CoverageSerializer(coverage).data)


def both_paths(client: Client, query: str) -> tuple[Any, Any]:
    """The lean path's answer, and DRF's for the same question (`format=json` is DRF's)."""
    lean = client.get(f"/api/v1/coverage/?{query}")
    drf = client.get(f"/api/v1/coverage/?{query}&format=json")
    assert lean.status_code == drf.status_code, (lean.content, drf.content)
    return lean, drf


@pytest.fixture
def buyers(world: World) -> dict[str, Buyer]:
    """Alice's buyers: one seasonal, one reduced four days ago, one with nothing in force."""
    with scopes_disabled():
        seasonal, reduced, uncovered = (BuyerFactory.create() for _ in range(3))
        contract = world.alice.contract
        period(contract, seasonal, "30000", -10, 20)
        period(contract, reduced, "60000", -100, -4)
        period(contract, reduced, "20000", -4, None)
        period(contract, uncovered, "40000", -100, -30)
    return {"seasonal": seasonal, "reduced": reduced, "uncovered": uncovered}


@pytest.mark.parametrize(
    ("name", "order", "outstanding", "fits"),
    [
        ("seasonal", "25000", "0", True),
        ("seasonal", "70000", "10000.50", False),
        ("reduced", "60000.99", "9999.01", True),
        ("reduced", "1", "70000", False),
        ("uncovered", "1", "0", False),
    ],
)
def test_both_paths_answer_what_the_pages_check_answers(
    world: World, buyers: dict[str, Buyer], name: str, order: str, outstanding: str, fits: bool
) -> None:
    buyer = buyers[name]
    client = token_client(world.alice.credit_manager)
    query = f"buyer={buyer.pk}&order_amount={order}&outstanding={outstanding}"
    lean, drf = both_paths(client, query)
    expected = pages_answer(world.alice, buyer, order, outstanding)
    assert lean.status_code == 200
    assert not hasattr(lean, "accepted_renderer") and hasattr(drf, "accepted_renderer")
    assert list(lean.json().items()) == list(expected.items()) == list(drf.json().items())
    assert lean.json()["fits"] is fits
    assert lean["Content-Type"] == drf["Content-Type"] == "application/json"


def test_the_usual_call_skips_the_page_middleware(world: World, buyers: dict[str, Buyer]) -> None:
    """No session, language or page policy for an ERP's call: a strict policy of its own."""
    client = token_client(world.alice.credit_manager)
    answer = client.get(f"/api/v1/coverage/?buyer={buyers['seasonal'].pk}&order_amount=1")
    assert answer["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert answer["X-Frame-Options"] == "DENY"
    assert "Content-Language" not in answer and not answer.cookies
    assert answer.wsgi_request.user == world.alice.credit_manager


def test_the_figures_are_the_periods_in_force_today(world: World, buyers: dict[str, Buyer]) -> None:
    client = token_client(world.alice.credit_manager)
    today = business_today()
    seasonal = client.get(f"/api/v1/coverage/?buyer={buyers['seasonal'].pk}&order_amount=0")
    assert seasonal.json()["total"] == "80000.00"
    assert seasonal.json()["valid_until"] == (today + timedelta(days=19)).isoformat()
    reduced = client.get(f"/api/v1/coverage/?buyer={buyers['reduced'].pk}&order_amount=0")
    assert reduced.json()["top_up"] == "20000.00" and reduced.json()["valid_until"] is None
    ended = client.get(f"/api/v1/coverage/?buyer={buyers['uncovered'].pk}&order_amount=0")
    assert ended.json()["total"] == "0.00" and ended.json()["exposure"] is None


def test_the_usual_call_costs_one_statement(world: World, buyers: dict[str, Buyer]) -> None:
    """The token with its user and the cover, read together once the connection's scope
    setting is the token's (after the ERP's first call): no ORM query, no setting sent."""
    client = token_client(world.alice.credit_manager)
    path = f"/api/v1/coverage/?buyer={buyers['seasonal'].pk}&order_amount=1"
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).json()["total"] == "80000.00"
    assert len(queries) == 1, [query["sql"][:80] for query in queries]


def test_a_call_after_another_tenants_reads_under_its_own_scope(
    world: World, buyers: dict[str, Buyer]
) -> None:
    """The connection's setting is still bob's when alice's call reads its cover: that read is
    not used, the cover is read again under alice's scope (and never shows bob's)."""
    alice, bob = token_client(world.alice.credit_manager), token_client(world.bob.credit_manager)
    buyer = buyers["seasonal"].pk
    for _ in range(2):
        assert bob.get(f"/api/v1/coverage/?buyer={buyer}&order_amount=1").json()["total"] == (
            "0.00"
        )
        answer = alice.get(f"/api/v1/coverage/?buyer={buyer}&order_amount=1").json()
        assert answer["total"] == "80000.00"
        assert answer["contract"] == str(world.alice.contract.pk)


def test_insurer_staff_read_a_clients_cover_on_the_named_contract(
    world: World, buyers: dict[str, Buyer]
) -> None:
    arbiter = token_client(world.staff["arbiter"])
    buyer = buyers["reduced"]
    query = f"buyer={buyer.pk}&order_amount=5000&contract={world.alice.contract.pk}"
    lean, drf = both_paths(arbiter, query)
    assert lean.json() == drf.json() == pages_answer(world.alice, buyer, "5000", "0")
    assert lean.json()["top_up"] == "20000.00"


def test_an_expired_token_is_refused_and_deleted(world: World, buyers: dict[str, Buyer]) -> None:
    from django.utils import timezone
    from knox.models import AuthToken

    client = token_client(world.alice.credit_manager)
    path = f"/api/v1/coverage/?buyer={buyers['seasonal'].pk}&order_amount=1"
    assert client.get(path).status_code == 200
    AuthToken.objects.filter(user=world.alice.credit_manager).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    answer = client.get(path)
    assert answer.status_code == 401 and "80000" not in answer.content.decode()
    assert not AuthToken.objects.filter(user=world.alice.credit_manager).exists()


def test_another_tenant_sees_its_own_cover_and_not_alices_contract(
    world: World, buyers: dict[str, Buyer]
) -> None:
    bob = token_client(world.bob.credit_manager)
    buyer = buyers["seasonal"].pk
    own, _ = both_paths(bob, f"buyer={buyer}&order_amount=1")
    assert own.json()["total"] == "0.00" and own.json()["contract"] == str(world.bob.contract.pk)
    for answer in both_paths(
        bob, f"buyer={buyer}&order_amount=1&contract={world.alice.contract.pk}"
    ):
        assert answer.status_code == 400
        assert answer.json()["code"] == "invalid" and answer.json()["field"] == "contract"
        assert "80000" not in answer.content.decode()


def test_the_broker_reads_its_clients_cover_on_the_named_contract(
    world: World, buyers: dict[str, Buyer]
) -> None:
    broker = token_client(world.broker_user)
    buyer = buyers["seasonal"]
    query = f"buyer={buyer.pk}&order_amount=25000&contract={world.alice.contract.pk}"
    lean, drf = both_paths(broker, query)
    assert lean.json() == drf.json() == pages_answer(world.alice, buyer, "25000", "0")
    # Without a contract a broker has none to default to; Bob's is out of its mandate.
    for answer in both_paths(broker, f"buyer={buyer.pk}&order_amount=1"):
        assert answer.status_code == 400 and answer.json()["field"] == "contract"
    for answer in both_paths(
        broker, f"buyer={buyer.pk}&order_amount=1&contract={world.bob.contract.pk}"
    ):
        assert answer.status_code == 400 and answer.json()["field"] == "contract"


def test_the_outsider_and_bad_questions_get_the_apis_errors(
    world: World, buyers: dict[str, Buyer]
) -> None:
    buyer = buyers["seasonal"].pk
    # Charlie's organisation owns no contract: nothing to answer for.
    charlie = token_client(world.charlie.credit_manager)
    for answer in both_paths(charlie, f"buyer={buyer}&order_amount=1"):
        assert answer.status_code == 400 and answer.json()["field"] == "contract"
    alice = token_client(world.alice.credit_manager)
    for query, field in (
        (f"buyer={BuyerFactory.build().pk}&order_amount=1", "buyer"),
        (f"buyer={buyer}&order_amount=-1", "order_amount"),
        (f"buyer={buyer}&order_amount=1.234", "order_amount"),
        ("buyer=not-a-uuid&order_amount=1", "buyer"),
    ):
        for answer in both_paths(alice, query):
            assert answer.status_code == 400 and answer.json()["field"] == field, query
    bad_token = Client(HTTP_AUTHORIZATION="Token up_not-a-token")
    for answer in both_paths(bad_token, f"buyer={buyer}&order_amount=1"):
        assert answer.status_code == 401 and answer.json()["code"] == "authentication_failed"

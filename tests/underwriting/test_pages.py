"""The pages: the request form and its live maximum, the queue, decisions, lists, coverage."""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import Buyer, GuaranteeRequest


def test_the_form_shows_the_largest_top_up_and_why_as_the_user_types(world: World) -> None:
    buyer = BuyerFactory()
    client = client_for(world.alice.credit_manager)
    url = f"/contracts/{world.alice.contract.pk}/buyers/{buyer.pk}/request/limits/"
    answer = client.get(
        url,
        {"exposure": "100 000", "primary_percent": "40", "requested_top_up": "80000"},
        HTTP_HX_REQUEST="true",
    )
    text = answer.content.decode()
    assert answer.status_code == 200
    assert "60000,00€" in re.sub(r"\s", "", text)
    assert "encours" in text  # the exposure rule is the one that binds
    assert 'data-testid="breach"' in text


def test_a_refused_request_shows_the_rule_on_the_field(world: World) -> None:
    buyer = BuyerFactory()
    client = client_for(world.alice.credit_manager)
    answer = client.post(
        f"/contracts/{world.alice.contract.pk}/buyers/{buyer.pk}/request/",
        {
            "exposure": "100000",
            "primary_amount": "40000",
            "requested_top_up": "90000",
            "credit_term_days": "60",
            "reason": "new_order",
        },
    )
    assert answer.status_code == 200
    errors = answer.context["form"].errors
    assert (
        "requested_top_up" in errors
        and "2 fois la limite primaire" in errors["requested_top_up"][0]
    )
    with scopes_disabled():
        assert not GuaranteeRequest.objects.exists()


def test_searching_an_unknown_valid_siren_offers_to_create_the_buyer(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    base = f"/contracts/{world.alice.contract.pk}/buyers/"
    assert "Ajouter" in client.get(base, {"q": "732829320"}).content.decode()
    refused = client.post(base, {"identifier": "732829321", "name": "X"})
    assert "invalide" in refused.context["create"].errors["identifier"][0]
    created = client.post(base, {"identifier": "FR44732829320", "name": "Nouveau"})
    assert created.status_code == 302
    assert Buyer.objects.get(siren="732829320").name == "Nouveau"


def test_the_queue_is_mine_by_default_oldest_due_first_and_filters(world: World) -> None:
    arbiter = world.staff["arbiter"]
    first = submit(world.alice, BuyerFactory(grade=3), top_up="10000")
    second = submit(world.bob, BuyerFactory(grade=8), top_up="30000")
    client = client_for(arbiter)
    rows = list(client.get("/backoffice/queue/").context["page"].object_list)
    assert rows == [first, second]
    filtered = client.get("/backoffice/queue/", {"arbiter": "me", "grade_min": "5"})
    assert list(filtered.context["page"].object_list) == [second]
    bad = client.get("/backoffice/queue/", {"grade_min": "eleven"})
    assert "grade_min" in bad.context["form"].errors
    senior_queue = client_for(world.staff["senior_arbiter"]).get("/backoffice/queue/")
    assert list(senior_queue.context["page"].object_list) == []  # nothing assigned to them


def test_the_queue_costs_the_same_queries_with_more_requests(world: World) -> None:
    client = client_for(world.staff["arbiter"])
    submit(world.alice, BuyerFactory())
    with CaptureQueriesContext(connection) as few:
        client.get("/backoffice/queue/")
    for _ in range(8):
        submit(world.bob, BuyerFactory(), top_up="1000")
    with CaptureQueriesContext(connection) as more:
        client.get("/backoffice/queue/")
    assert len(more) == len(few)


def test_the_arbiter_decides_from_the_page_and_the_wholesaler_sees_the_cover(world: World) -> None:
    arbiter = world.staff["arbiter"]
    arbiter.authority_amount = Decimal("100000")
    arbiter.save(update_fields=["authority_amount"])
    buyer = BuyerFactory()
    request = submit(world.alice, buyer)
    answer = client_for(arbiter).post(
        f"/backoffice/requests/{request.pk}/",
        {"outcome": "approved", "amount": "40000", "valid_from": "2000-01-01"},
    )
    assert "valid_from" in answer.context["form"].errors  # never before today
    from portal.timeutils import business_today

    answer = client_for(arbiter).post(
        f"/backoffice/requests/{request.pk}/",
        {"outcome": "approved", "amount": "40000", "valid_from": business_today().isoformat()},
    )
    assert answer.status_code == 302
    page = client_for(world.alice.credit_manager).get("/guarantees/").content.decode()
    assert "80,0%" in re.sub(r"\s", "", page)
    coverage = client_for(world.alice.credit_manager).get(
        f"/contracts/{world.alice.contract.pk}/buyers/{buyer.pk}/coverage/",
        {"order_amount": "90000"},
    )
    assert "dépasse" in coverage.content.decode()
    bob = client_for(world.bob.credit_manager).get("/guarantees/").content.decode()
    assert buyer.name not in bob


def test_the_risk_file_adds_up_the_insurers_exposure_across_policyholders(world: World) -> None:
    senior = world.staff["senior_arbiter"]
    buyer = BuyerFactory()
    from underwriting import services

    with scopes_disabled():
        for tenant in (world.alice, world.bob):
            request = submit(tenant, buyer)
            services.guarantee_request_decide(
                request_id=request.pk, outcome="approved", actor=senior
            )
    answer = client_for(senior).get(f"/backoffice/buyers/{buyer.pk}/")
    assert answer.context["accumulation"]["top_up"] == Decimal("80000.00")
    assert answer.context["accumulation"]["policyholders"] == 2


def test_the_wholesaler_withdraws_an_open_request(world: World) -> None:
    request = submit(world.alice, BuyerFactory())
    client = client_for(world.alice.credit_manager)
    client.post(f"/requests/{request.pk}/withdraw/")
    with scopes_disabled():
        request.refresh_from_db()
    assert request.status == "withdrawn"

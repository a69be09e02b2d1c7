"""The arbiter's pages: the queue, deciding from the page, the buyer's risk file."""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.scopes import acting_as
from tests.support.underwriting import submit
from tests.support.world import World


def test_the_queue_is_mine_by_default_oldest_due_first_and_filters(world: World) -> None:
    arbiter = world.staff["arbiter"]
    first = submit(world.alice, BuyerFactory.create(grade=3), top_up="10000")
    second = submit(world.bob, BuyerFactory.create(grade=8), top_up="30000")
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
    submit(world.alice, BuyerFactory.create())
    with CaptureQueriesContext(connection) as few:
        client.get("/backoffice/queue/")
    for _ in range(8):
        submit(world.bob, BuyerFactory.create(), top_up="1000")
    with CaptureQueriesContext(connection) as more:
        client.get("/backoffice/queue/")
    assert len(more) == len(few)


def test_the_arbiter_decides_from_the_page_and_the_wholesaler_sees_the_cover(world: World) -> None:
    arbiter = world.staff["arbiter"]
    arbiter.authority_amount = Decimal("100000")
    arbiter.save(update_fields=["authority_amount"])
    buyer = BuyerFactory.create()
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
    buyer = BuyerFactory.create()
    from underwriting import services

    for tenant in (world.alice, world.bob):
        request = submit(tenant, buyer)
        with acting_as(senior):
            services.guarantee_request_decide(
                request_id=request.pk, outcome="approved", actor=senior
            )
    answer = client_for(senior).get(f"/backoffice/buyers/{buyer.pk}/")
    assert answer.context["accumulation"]["top_up"] == Decimal("80000.00")
    assert answer.context["accumulation"]["policyholders"] == 2

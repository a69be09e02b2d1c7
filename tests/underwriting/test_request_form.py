"""The wholesaler's request pages: the form and its live maximum, the buyer search, withdrawing."""

from __future__ import annotations

import re

from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.scopes import scope_of
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import Buyer, GuaranteeRequest


def test_the_form_shows_the_largest_top_up_and_why_as_the_user_types(world: World) -> None:
    buyer = BuyerFactory.create()
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
    buyer = BuyerFactory.create()
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
    with scope_of(world.alice):
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


def test_the_wholesaler_withdraws_an_open_request(world: World) -> None:
    request = submit(world.alice, BuyerFactory.create())
    client = client_for(world.alice.credit_manager)
    client.post(f"/requests/{request.pk}/withdraw/")
    with scope_of(world.alice):
        request.refresh_from_db()
    assert request.status == "withdrawn"

"""In Chromium: a wholesaler asks for a top-up, the arbiter approves it from the queue, the
wholesaler sees the guarantee and the new total cover."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from pytest_django.live_server_helper import LiveServer

from tests.support.browser import login
from tests.support.factories import BuyerFactory
from tests.support.world import World
from underwriting.models import Buyer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def digits(text: str) -> str:
    return re.sub(r"[^\d,%]", "", text)


@pytest.fixture
def buyer(world: World) -> Buyer:
    """Rows are written before Chromium starts: Playwright's greenlet would otherwise hold a
    database connection of its own past the end of the test."""
    arbiter = world.staff["arbiter"]
    arbiter.authority_amount = Decimal("100000")
    arbiter.save(update_fields=["authority_amount"])
    return BuyerFactory.create(name="Revendeur Navigateur")


def test_a_top_up_goes_from_the_wholesaler_to_the_arbiter_and_back(
    world: World, buyer: Buyer, live_server: LiveServer, chromium: Browser
) -> None:
    arbiter = world.staff["arbiter"]
    assert buyer.siren is not None  # the factory always gives one; the model allows a VAT number
    # An IP address: Chromium does not try to upgrade it to https.
    base = live_server.url.replace("localhost", "127.0.0.1")

    wholesaler = login(chromium, base, world.alice.credit_manager.email)
    wholesaler.click("[data-testid=new-request]")
    wholesaler.fill("#id_q", buyer.siren)
    wholesaler.click("[data-testid=buyer-search]")
    wholesaler.click("[data-testid=buyer-results] >> text=Demander un top-up")
    wholesaler.fill("#id_exposure", "100 000")
    wholesaler.fill("#id_primary_amount", "40000")
    wholesaler.fill("#id_requested_top_up", "40000")
    # The largest top-up the rules allow appears while typing (htmx): 60 000 by the exposure.
    max_top_up = wholesaler.locator("[data-testid=max-top-up]")
    max_top_up.wait_for()
    assert digits(max_top_up.inner_text()) == "60000,00"
    wholesaler.click("[data-testid=submit-request]")
    assert "attente" in wholesaler.inner_text("[data-testid=request-status]")

    desk = login(chromium, base, arbiter.email)
    desk.click("[data-testid=nav-queue]")
    desk.locator("[data-testid=queue-open]").first.click()
    desk.click("[data-testid=decide]")
    assert "Accordée" in desk.inner_text("[data-testid=request-status]")

    wholesaler.click("[data-testid=nav-guarantees]")
    row = wholesaler.locator("[data-testid=guarantees] tr", has_text="Revendeur Navigateur")
    assert digits(row.locator("[data-testid=total-cover]").inner_text()) == "80000,00"
    assert digits(row.locator("[data-testid=cover-ratio]").inner_text()) == "80,0%"

"""In Chromium: the wholesaler asks its dedicated arbiter a question about a buyer from the buyer
page; the arbiter finds it in the inbox (unread, waiting) and answers; the wholesaler sees the
unread count in the header, opens the thread, reads the answer, and the count clears."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from pytest_django.live_server_helper import LiveServer

from tests.support.browser import login
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.world import World
from underwriting.models import Buyer

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def buyer(world: World) -> Buyer:
    """Written before Chromium starts (Playwright's greenlet would hold a connection)."""
    buyer = BuyerFactory.create(name="Revendeur Questionné", grade=7)
    GuaranteeFactory.create(
        contract=world.alice.contract, buyer=buyer, period=DateRange(date(2026, 1, 1), None, "[)")
    )
    connection.close()
    return buyer


def test_the_wholesaler_asks_about_a_buyer_and_reads_the_arbiters_answer(
    world: World, buyer: Buyer, live_server: LiveServer, chromium: Browser
) -> None:
    base = live_server.url.replace("localhost", "127.0.0.1")

    wholesaler = login(chromium, base, world.alice.credit_manager.email)
    wholesaler.goto(f"{base}/contracts/{world.alice.contract.pk}/buyers/{buyer.pk}/")
    wholesaler.click("[data-testid=ask-arbiter]")
    assert wholesaler.input_value("#id_subject") == "Acheteur Revendeur Questionné"
    wholesaler.fill("#id_body", "Pouvons-nous porter le top-up à 80 000 € ?")
    wholesaler.click("[data-testid=thread-send]")
    wholesaler.wait_for_selector("[data-testid=thread-subject]")
    assert "Revendeur Questionné" in wholesaler.inner_text("[data-testid=thread-linked]")

    arbiter = login(chromium, base, world.staff["arbiter"].email)
    assert arbiter.inner_text("[data-testid=unread-threads]") == "1"
    arbiter.click("[data-testid=nav-messages]")
    row = arbiter.locator("[data-testid=inbox-row]")
    assert row.count() == 1
    assert "à l'instant" in row.inner_text() or "il y a" in row.inner_text()
    arbiter.click("[data-testid=inbox-open]")
    arbiter.fill("#id_body", "Oui, jusqu'à 80 000 € : déposez la demande.")
    arbiter.click("[data-testid=reply-send]")
    arbiter.wait_for_selector("text=Message envoyé.")
    assert arbiter.locator("[data-testid=unread-threads]").count() == 0

    wholesaler.goto(f"{base}/conversations/")
    assert wholesaler.inner_text("[data-testid=unread-threads]") == "1"
    assert wholesaler.locator("[data-testid=thread-unread]").count() == 1
    wholesaler.click("[data-testid=thread-open]")
    bodies = wholesaler.locator("[data-testid=message-body]").all_inner_texts()
    assert bodies[-1] == "Oui, jusqu'à 80 000 € : déposez la demande."
    assert wholesaler.locator("[data-testid=unread-threads]").count() == 0
    assert "Lu par" in wholesaler.inner_text("[data-testid=messages]")

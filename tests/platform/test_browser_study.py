"""In Chromium: a broker brings a prospect and uploads its buyer list, a senior arbiter issues
the report, the prospect's contact accepts the invitation and the study, and sees its
guarantees."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from django.core import mail
from django.db import connection
from pytest_django.live_server_helper import LiveServer

from portal.outbox import deliveries_dispatch, deliveries_pending
from tests.support.browser import login
from tests.support.factories import BuyerFactory, siren_for
from tests.support.world import World
from underwriting.models import Buyer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FilePayload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTACT = "camille@nouveau-grossiste.test"


@pytest.fixture
def buyers(world: World) -> list[Buyer]:
    """Written before Chromium starts (Playwright's greenlet would hold a connection)."""
    return [
        BuyerFactory.create(siren=siren_for(7001), name="Revendeur Étoile", grade=9),
        BuyerFactory.create(siren=siren_for(7002), name="Revendeur Prudent", grade=6),
    ]


def _send_mail() -> list[str]:
    """What beat's sweep would do: send the pending e-mails; the bodies sent to the contact."""
    mail.outbox.clear()
    try:
        deliveries_dispatch(delivery_ids=deliveries_pending(older_than=timedelta(0)))
    finally:
        # Called while Playwright runs: its greenlet has a connection of its own, which must
        # not outlive the test (the test database could not be dropped).
        connection.close()
    return [str(message.body) for message in mail.outbox if message.to == [CONTACT]]


def test_a_prospect_becomes_a_live_contract_through_a_study(
    world: World, buyers: list[Buyer], live_server: LiveServer, chromium: Browser
) -> None:
    base = live_server.url.replace("localhost", "127.0.0.1")
    star, careful = buyers
    assert star.siren is not None and careful.siren is not None

    broker = login(chromium, base, world.broker_user.email)
    broker.click("[data-testid=study-new-prospect]")
    form = broker.locator("[data-testid=prospect-form]")
    form.locator("#id_name").fill("Nouveau Grossiste SAS")
    form.locator("#id_siren").fill(" ".join([siren_for(9001)[:3], siren_for(9001)[3:]]))
    form.locator("#id_contact_name").fill("Camille Durand")
    form.locator("#id_contact_email").fill(CONTACT)
    form.locator("#id_primary_insurer_name").fill("Coface")
    form.locator("#id_primary_policy_number").fill("CF-123456")
    form.locator("button[type=submit]").click()
    # A messy list: BOM, semicolons, French numbers, a SIREN with spaces, a line in error.
    content = (
        "\ufeffSIREN;Raison sociale;Encours;Limite primaire\n"
        f"{star.siren[:3]} {star.siren[3:6]} {star.siren[6:]};Revendeur Étoile;100 000,00;40 000\n"
        f"{careful.siren};Revendeur Prudent;80.000,00;30000\n"
        "123456789;Clé fausse;1000;500\n"
    ).encode()
    payload: FilePayload = {"name": "acheteurs.csv", "mimeType": "text/csv", "buffer": content}
    broker.locator("[data-testid=study-upload] input[type=file]").set_input_files(files=payload)
    broker.locator("[data-testid=study-upload] button[type=submit]").click()
    lines = broker.locator("[data-testid=study-lines]")
    assert "Ligne 4" in lines.inner_text() and "SIREN" in lines.inner_text()
    broker.click("[data-testid=study-submit]")

    senior = login(chromium, base, world.staff["senior_arbiter"].email)
    senior.goto(f"{base}/studies/?review=1")
    senior.locator("[data-testid=study-open]", has_text="Nouveau Grossiste").click()
    senior.click("[data-testid=study-finalise]")
    assert "Rapport" in senior.inner_text("[data-testid=study-status]")

    (invitation,) = [body for body in _send_mail() if "/invitation/" in body]
    match = re.search(r"https?://[^/]+(/studies/\S+/invitation/\S+/)", invitation)
    assert match is not None
    contact = chromium.new_context(locale="fr-FR").new_page()
    contact.set_default_timeout(15_000)
    contact.goto(base + match.group(1))
    # Grade 9: X = min(2 × 40 000, 100 000 − 40 000) = 60 000; grade 6: 50 % of
    # min(2 × 30 000, 80 000 − 30 000) = 25 000. Together 85 000,00 €.
    assert re.sub(r"\D", "", contact.inner_text("[data-testid=invitation-top-up]")) == "8500000"
    accept = contact.locator("[data-testid=invitation-accept]")
    accept.locator("#id_password1").fill("Un-mot-de-passe-solide-2026")
    accept.locator("#id_password2").fill("Un-mot-de-passe-solide-2026")
    contact.click("[data-testid=invitation-accept-submit]")
    table = contact.locator("[data-testid=guarantees]")
    assert "Revendeur Étoile" in table.inner_text() and "Revendeur Prudent" in table.inner_text()

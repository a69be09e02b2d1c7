"""Credit notes from the invoice page: an explicit choice (the whole invoice, or an amount
before tax), then a confirmation page stating what will be credited; only the confirmed post
issues. The API takes the explicit choice as its confirmation."""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from billing.models import Invoice, InvoiceKind
from billing.services import invoice_issue
from portal.models import User
from tests.support.billing import guarantee, set_terms
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.scopes import insurer_scope
from tests.support.world import World
from underwriting.models import Buyer

if TYPE_CHECKING:  # the test client's response type exists in the stubs only
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def invoice(world: World) -> Invoice:
    """alice's October invoice: 1 500 000 in force all month at 0.12 %/month = 1 800,00,
    tax 9 % = 162,00, total 1 962,00."""
    contract = world.alice.contract
    set_terms(contract, tax_rate=Decimal("0.0900"))
    buyer: Buyer = BuyerFactory.create()
    guarantee(contract, buyer, "1500000", date(2026, 1, 1))
    with insurer_scope():
        issued = invoice_issue(contract=contract, month=OCTOBER)
    assert issued is not None and issued.total == Decimal("1962.00")
    return issued


def credit_notes() -> list[Invoice]:
    with insurer_scope():
        return list(Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE))


def post_credit_note(client: Client, invoice: Invoice, data: dict[str, Any]) -> Response:
    return client.post(f"/invoices/{invoice.pk}/credit-note/", data)


def text_of(response: Response) -> str:
    """The page as read: entities unescaped, French thousands separators (narrow or plain
    no-break space) as spaces."""
    return html.unescape(response.content.decode()).replace("\u202f", " ").replace("\xa0", " ")


def test_a_credit_note_is_not_issued_until_it_is_confirmed(world: World, invoice: Invoice) -> None:
    client = client_for(world.staff["finance_ops"])
    asked = post_credit_note(
        client, invoice, {"full": "0", "amount": "1 234,56", "reason": "Geste commercial"}
    )
    assert asked.status_code == 200
    assert [t.name for t in asked.templates][0] == "billing/credit_note_confirm.html"
    page = text_of(asked)
    # 1 234,56 before tax, 9 % tax 111,11, 1 345,67 in all
    assert "1 234,56 €" in page and "111,11 €" in page and "1 345,67 €" in page
    assert "Confirmer l'émission" in page and "Annuler" in page
    assert '<input type="hidden" name="confirm" value="1">' in page
    assert f'href="/invoices/{invoice.pk}/"' in page  # "Annuler" goes back to the invoice
    assert credit_notes() == []

    confirmed = post_credit_note(client, invoice, asked.context["hidden"])
    (note,) = credit_notes()
    assert confirmed.status_code == 302 and confirmed["Location"] == f"/invoices/{note.pk}/"
    assert note.credits_id == invoice.pk and note.reason == "Geste commercial"
    assert (note.premium_total, note.tax_amount, note.total) == (
        Decimal("-1234.56"),
        Decimal("-111.11"),
        Decimal("-1345.67"),
    )


@pytest.mark.parametrize("confirm", [{}, {"confirm": "1"}], ids=["asked", "confirmed"])
def test_an_empty_amount_without_choosing_full_is_refused_naming_the_field(
    world: World, invoice: Invoice, confirm: dict[str, str]
) -> None:
    client = client_for(world.staff["finance_ops"])
    partial = post_credit_note(
        client, invoice, {"full": "0", "amount": "", "reason": "Geste", **confirm}
    )
    assert partial.status_code == 400
    assert list(partial.context["credit_form"].errors) == ["amount"]
    no_choice = post_credit_note(client, invoice, {"amount": "", "reason": "Geste", **confirm})
    assert no_choice.status_code == 400
    assert list(no_choice.context["credit_form"].errors) == ["full"]
    assert "Choisissez l'avoir total ou un avoir partiel." in text_of(no_choice)
    assert credit_notes() == []


def test_an_amount_above_what_is_left_is_refused_before_the_confirmation(
    world: World, invoice: Invoice
) -> None:
    client = client_for(world.staff["finance_ops"])
    # 1 800,01 + tax 162,00 = 1 962,01 > 1 962,00
    refused = post_credit_note(
        client, invoice, {"full": "0", "amount": "1800.01", "reason": "Geste"}
    )
    assert refused.status_code == 400
    assert list(refused.context["credit_form"].errors) == ["amount"]
    assert credit_notes() == []


def test_a_full_credit_note_is_issued_from_the_page_after_confirmation(
    world: World, invoice: Invoice
) -> None:
    client = client_for(world.staff["finance_ops"])
    asked = post_credit_note(client, invoice, {"full": "1", "reason": "Résiliation"})
    assert asked.status_code == 200
    page = text_of(asked)
    assert "1 800,00 €" in page and "162,00 €" in page and "1 962,00 €" in page
    assert credit_notes() == []

    confirmed = post_credit_note(client, invoice, asked.context["hidden"])
    assert confirmed.status_code == 302
    (note,) = credit_notes()
    assert note.total == Decimal("-1962.00")
    with insurer_scope():
        assert [line.premium for line in note.lines.all()] == [Decimal("-1800.00")]
    again = post_credit_note(client, invoice, asked.context["hidden"])
    assert again.status_code == 400  # a second full credit is refused, on the choice
    assert list(again.context["credit_form"].errors) == ["full"]
    assert len(credit_notes()) == 1


def test_the_api_refuses_a_credit_note_with_neither_full_nor_amount_and_accepts_full(
    world: World, invoice: Invoice
) -> None:
    client = client_for(world.staff["finance_ops"])
    url = f"/api/v1/invoices/{invoice.pk}/credit-note/"
    for body in ({"reason": "Résiliation"}, {"full": True, "amount": "10", "reason": "x"}):
        refused = client.post(url, body, content_type="application/json")
        assert refused.status_code == 400, body
        assert refused.json()["field"] == "amount"
    assert credit_notes() == []
    accepted = client.post(
        url, {"full": True, "reason": "Résiliation"}, content_type="application/json"
    )
    assert accepted.status_code == 201 and accepted.json()["total"] == "-1962.00"
    assert len(credit_notes()) == 1


@pytest.mark.parametrize("role", ["finance", "org_admin"])
def test_a_policyholder_finance_user_sees_no_credit_note_form_and_gets_404_when_posting(
    world: World, invoice: Invoice, role: str
) -> None:
    client = client_for(world.alice.users[role])
    page = client.get(f"/invoices/{invoice.pk}/")
    assert page.status_code == 200
    assert page.context["credit_form"] is None
    assert 'data-testid="credit-note-form"' not in page.content.decode()
    assert "/credit-note/" not in page.content.decode()
    for confirm in ({}, {"confirm": "1"}):
        data = {"full": "1", "reason": "Moi aussi", **confirm}
        assert post_credit_note(client, invoice, data).status_code == 404
    assert credit_notes() == []


def outsiders(world: World) -> list[User]:
    return [*world.charlie.users.values(), *world.bob.users.values()]


def test_an_outsider_gets_404_on_the_credit_note_pages(world: World, invoice: Invoice) -> None:
    for user in outsiders(world):
        client = client_for(user)
        assert client.get(f"/invoices/{invoice.pk}/").status_code == 404, user.username
        for confirm in ({}, {"confirm": "1"}):
            data = {"full": "1", "reason": "Pas à moi", **confirm}
            assert post_credit_note(client, invoice, data).status_code == 404, user.username
        api = client.post(
            f"/api/v1/invoices/{invoice.pk}/credit-note/",
            {"full": True, "reason": "Pas à moi"},
            content_type="application/json",
        )
        assert api.status_code == 404, user.username
    assert credit_notes() == []

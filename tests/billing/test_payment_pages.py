"""The invoice pages: payments listed to whoever sees the invoice, the payment form and the bank
statement import for finance ops only, the invoice list's status filters and totals."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from billing import services
from billing.models import Payment
from portal.timeutils import business_today
from tests.support.clients import client_for
from tests.support.payments import due_days_ago, invoice_for
from tests.support.scopes import insurer_scope
from tests.support.world import World


def test_finance_ops_record_a_payment_typed_the_french_way(world: World) -> None:
    invoice = invoice_for(world.alice, "1000000")  # 1 308,00 €
    client = client_for(world.staff["finance_ops"])
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    assert 'data-testid="payment-form"' in page
    answer = client.post(
        f"/invoices/{invoice.pk}/payments/",
        {"received_on": business_today().isoformat(), "amount": "1 000,50", "reference": "VIR 7"},
        follow=True,
    )
    page = answer.content.decode()
    assert "Paiement de 1\u202f000,50 € enregistré" in page
    assert "Partiellement payée" in page and "307,50 €" in page
    with insurer_scope():
        assert Payment.objects.get().amount == Decimal("1000.50")


def test_a_payment_above_the_balance_is_refused_on_the_amount_field(world: World) -> None:
    invoice = invoice_for(world.alice)
    answer = client_for(world.staff["finance_ops"]).post(
        f"/invoices/{invoice.pk}/payments/",
        {"received_on": business_today().isoformat(), "amount": "70.00"},
    )
    assert answer.status_code == 400
    assert "dépasse le solde dû" in answer.content.decode()


def test_the_policyholder_sees_its_payments_but_no_payment_form(world: World) -> None:
    invoice = invoice_for(world.alice)
    with insurer_scope():
        services.payment_record(
            invoice=invoice,
            received_on=business_today(),
            amount=Decimal("20"),
            reference="VIR ALICE",
            actor=world.staff["finance_ops"],
        )
    for user in (world.alice.finance, world.broker_user):
        page = client_for(user).get(f"/invoices/{invoice.pk}/").content.decode()
        assert "VIR ALICE" in page and 'data-testid="payment-form"' not in page
    assert (
        client_for(world.alice.finance)
        .post(f"/invoices/{invoice.pk}/payments/", {"amount": "1"})
        .status_code
        == 404
    )


def test_an_outsider_gets_404_on_the_invoice_and_its_payments(world: World) -> None:
    invoice = invoice_for(world.alice)
    outsider = client_for(world.bob.finance)
    assert outsider.get(f"/invoices/{invoice.pk}/").status_code == 404
    payment = {"received_on": business_today().isoformat(), "amount": "1"}
    assert outsider.post(f"/invoices/{invoice.pk}/payments/", payment).status_code == 404


@pytest.mark.parametrize("user", ["alice_finance", "broker", "arbiter"])
def test_only_finance_ops_reach_the_bank_statement_import(world: World, user: str) -> None:
    who = {
        "alice_finance": world.alice.finance,
        "broker": world.broker_user,
        "arbiter": world.staff["arbiter"],
    }[user]
    assert client_for(who).get("/invoices/payments/import/").status_code == 404


def test_the_bank_statement_page_previews_then_records(world: World) -> None:
    invoice = invoice_for(world.alice)
    today = f"{business_today():%d/%m/%Y}"
    csv = f"Date;Libellé;Montant\n{today};VIR {invoice.number};65,40\n{today};VIR INCONNU;3,00\n"
    client = client_for(world.staff["finance_ops"])
    upload = io.BytesIO(csv.encode())
    upload.name = "releve.csv"
    preview = client.post("/invoices/payments/import/", {"file": upload}).content.decode()
    assert "Enregistrer le paiement reconnu" in preview
    assert "Ligne 3 : aucun numéro de facture" in preview
    with insurer_scope():
        assert not Payment.objects.exists()
    token = preview.split('name="statement" value="')[1].split('"')[0]
    done = client.post("/invoices/payments/import/", {"statement": token, "confirm": "1"})
    assert "1 paiement enregistré." in done.content.decode()
    with insurer_scope():
        assert Payment.objects.get().invoice_id == invoice.pk
    tampered = client.post("/invoices/payments/import/", {"statement": token + "x", "confirm": "1"})
    assert tampered.status_code == 302


def test_an_unreadable_statement_says_why_and_stores_nothing(world: World) -> None:
    upload = io.BytesIO(b"Date;Montant\n01/10/2026;3,00\n")
    upload.name = "releve.csv"
    answer = client_for(world.staff["finance_ops"]).post(
        "/invoices/payments/import/", {"file": upload}
    )
    assert answer.status_code == 400
    assert "Aucun en-tête de relevé trouvé" in answer.content.decode()


def test_the_invoice_list_filters_overdue_invoices_and_totals_them(world: World) -> None:
    late = due_days_ago(invoice_for(world.alice), 3)
    on_time = invoice_for(world.bob, "1000000")
    with insurer_scope():
        services.payment_record(
            invoice=late,
            received_on=business_today(),
            amount=Decimal("5"),
            reference="",
            actor=world.staff["finance_ops"],
        )
    client = client_for(world.staff["finance_ops"])
    page = client.get("/invoices/?status=overdue").content.decode()
    assert late.number in page and on_time.number not in page
    assert 'data-testid="invoice-overdue"' in page
    totals = page.split('data-testid="list-totals"')[1].split("</tr>")[0]
    assert "65,40 €" in totals and "5,00 €" in totals and "60,40 €" in totals
    unpaid = client.get("/invoices/?status=unpaid").content.decode()
    assert on_time.number in unpaid and late.number not in unpaid
    export = client.get("/invoices/?status=overdue&export=xlsx")
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [late.number]
    # Each policyholder lists only its own.
    mine = client_for(world.bob.finance).get("/invoices/").content.decode()
    assert on_time.number in mine and late.number not in mine

"""The invoice PDF: rendered from the document's rows, the same bytes every time; the e-mail
to the policyholder's finance users."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from django.core import mail

from billing.models import Invoice, InvoicePdf
from billing.pdf import invoice_pdf_html, invoice_pdf_render
from billing.tasks import invoice_render_pdf
from portal.models import Notification
from tests.support.billing import guarantee, issued, set_terms
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.pdf_text import pdf_text
from tests.support.scopes import insurer_scope
from tests.support.world import World
from underwriting.models import PremiumBasis

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def invoice(world: World) -> Invoice:
    contract = world.alice.contract
    guarantee(contract, BuyerFactory.create(name="Revendeur Nord"), "40000", date(2026, 10, 15))
    guarantee(contract, BuyerFactory.create(name="Revendeur Sud"), "12345.67", date(2026, 1, 1))
    with insurer_scope():
        return issued(contract, OCTOBER)


def test_the_pdf_is_the_same_bytes_every_time_it_is_rendered(invoice: Invoice) -> None:
    with insurer_scope():
        first = invoice_pdf_render(invoice=invoice)
        second = invoice_pdf_render(invoice=invoice)
    assert first.startswith(b"%PDF-")
    assert first == second


def test_the_pdf_shows_parties_period_lines_and_the_total_in_words(
    invoice: Invoice, world: World
) -> None:
    with insurer_scope():
        html = invoice_pdf_html(invoice=invoice)
    # 40 000 × 0.0012 = 48.00 and 12 345.67 × 0.0012 = 14.81 → 62.81
    for expected in [
        invoice.number,
        world.insurer.name,
        world.alice.organisation.name,
        world.alice.organisation.siren,
        world.alice.contract.number,
        "octobre 2026",
        "Revendeur Nord",
        "48,00",
        "62,81",
        "soixante-deux euros et quatre-vingt-un centimes",
        invoice.payment_iban,
        f"{invoice.due_on:%d/%m/%Y}",
    ]:
        assert expected in html, expected
    assert "Jours en vigueur" not in html  # peak basis: no days column


def test_a_prorata_pdf_shows_the_days_in_force(world: World) -> None:
    contract = world.alice.contract
    set_terms(contract, premium_basis=PremiumBasis.PRORATA)
    guarantee(contract, BuyerFactory.create(name="Revendeur Est"), "40000", date(2026, 10, 15))
    with insurer_scope():
        text = pdf_text(invoice_pdf_render(invoice=issued(contract, OCTOBER)))
    # In force from 15 to 31 October: 17 days; 40 000 × 17 / 31 × 0.12 % = 26.32.
    line = next(row for row in text.splitlines() if row.startswith("Revendeur Est"))
    assert line.split()[-2:] == ["17", "26,32"], line
    assert "Jours" in text and "jours en vigueur" in text


def test_the_render_task_stores_the_pdf_once(invoice: Invoice) -> None:
    invoice_render_pdf(invoice_id=str(invoice.pk))
    invoice_render_pdf(invoice_id=str(invoice.pk))
    with insurer_scope():
        stored = InvoicePdf.objects.get(invoice=invoice)
    assert hashlib.sha256(bytes(stored.content)).hexdigest() == stored.sha256


def test_every_download_serves_the_stored_bytes(invoice: Invoice, world: World) -> None:
    client = client_for(world.alice.finance)
    first = client.get(f"/invoices/{invoice.pk}/pdf/")
    second = client.get(f"/invoices/{invoice.pk}/pdf/")
    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    assert first.content == second.content
    with insurer_scope():
        assert first.content == bytes(InvoicePdf.objects.get(invoice=invoice).content)
    api = client.get(f"/api/v1/invoices/{invoice.pk}/pdf/")
    assert api.status_code == 200 and api.content == first.content


@pytest.mark.usefixtures("eager_celery")
def test_the_policyholders_finance_users_are_told_when_an_invoice_is_issued(
    world: World, django_capture_on_commit_callbacks
) -> None:
    guarantee(world.alice.contract, BuyerFactory.create(), "40000", date(2026, 1, 1))
    with django_capture_on_commit_callbacks(execute=True), insurer_scope():
        invoice = issued(world.alice.contract, OCTOBER)
    notified = Notification.objects.filter(subject__contains=invoice.number)
    assert [n.recipient for n in notified] == [world.alice.finance]
    assert [message.to for message in mail.outbox] == [[world.alice.finance.email]]
    with insurer_scope():
        assert InvoicePdf.objects.filter(invoice=invoice).exists()  # rendered after commit


def test_a_credit_note_pdf_names_the_invoice_it_credits(invoice: Invoice, world: World) -> None:
    from billing.services import credit_note_issue

    with insurer_scope():
        note = credit_note_issue(
            invoice=invoice,
            full=True,
            reason="Garantie annulée",
            actor=world.staff["finance_ops"],
        )
        html = invoice_pdf_html(invoice=note)
        assert invoice_pdf_render(invoice=note).startswith(b"%PDF-")
    # the whole invoice credited: −62.81
    assert "Avoir" in html and invoice.number in html and "Garantie annulée" in html
    assert "-62,81" in html and "moins soixante-deux euros et quatre-vingt-un centimes" in html
    assert "IBAN" not in html  # nothing to pay on a credit note

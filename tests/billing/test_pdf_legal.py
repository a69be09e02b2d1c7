"""What a French finance department files: the invoice PDF names the insurer's legal identity
(from settings), the policy references, the full address, the tax and the payment terms. Read
from the PDF's own text, as a reader sees it."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import override_settings

from billing.models import Invoice
from billing.pdf import invoice_pdf_render
from tests.support.billing import guarantee, issued, set_terms
from tests.support.factories import BuyerFactory
from tests.support.pdf_text import pdf_text
from tests.support.scopes import insurer_scope
from tests.support.world import World
from underwriting.models import PremiumBasis

OCTOBER = date(2026, 10, 1)
NARROW = "\u202f"  # the thousands separator
EURO = " €"  # as portal.money.eur writes it
ADDRESS = "Bâtiment B\n14 rue des Halles\n59000 Lille"


@pytest.fixture
def invoice(world: World) -> Invoice:
    contract = world.alice.contract
    contract.policyholder.address = ADDRESS
    contract.policyholder.save(update_fields=["address"])
    set_terms(contract, tax_rate=Decimal("0.09"))
    guarantee(contract, BuyerFactory.create(name="Revendeur Nord"), "1250000", date(2026, 1, 1))
    with insurer_scope():
        return issued(contract, OCTOBER)


def text_of(invoice: Invoice) -> str:
    with insurer_scope():
        # One line, ASCII spaces collapsed (the narrow and plain no-break spaces kept).
        return re.sub(r"[ \n]+", " ", pdf_text(invoice_pdf_render(invoice=invoice)))


def test_the_invoice_names_the_insurer_as_the_settings_describe_it(invoice: Invoice) -> None:
    with override_settings(
        INSURER_LEGAL_NAME="Assurances Complémentaires du Nord",
        INSURER_LEGAL_FORM="Société anonyme",
        INSURER_SHARE_CAPITAL=25_500_000,
        INSURER_RCS="RCS Lille 111 222 333",
        INSURER_REGISTERED_OFFICE="5 place du Théâtre, 59000 Lille",
    ):
        text = text_of(invoice)
    for expected in [
        "Assurances Complémentaires du Nord",
        f"Société anonyme au capital de 25{NARROW}500{NARROW}000{EURO}",
        "RCS Lille 111 222 333",
        "5 place du Théâtre, 59000 Lille",
        "Entreprise régie par le Code des assurances",
        "soumise au contrôle de l'Autorité de contrôle prudentiel et de résolution (ACPR)",
        "4 place de Budapest, CS 92459, 75436 Paris Cedex 09",
    ]:
        assert expected in text, expected


def test_the_invoice_carries_the_policy_references_and_the_full_address(
    invoice: Invoice, world: World
) -> None:
    contract = world.alice.contract
    text = text_of(invoice)
    assert f"Police n° {contract.number}" in text
    assert f"{contract.primary_insurer_name}, police {contract.primary_policy_number}" in text
    assert "Bâtiment B 14 rue des Halles 59000 Lille" in text


def test_the_tax_is_named_with_its_rate_and_the_vat_exemption_is_stated(invoice: Invoice) -> None:
    text = text_of(invoice)
    # 1 250 000 × 0.12 % = 1 500.00; TSCA 9 % = 135.00; total 1 635.00
    assert f"Total des primes 1{NARROW}500,00{EURO}" in text
    assert f"Taxe spéciale sur les conventions d'assurance (TSCA) 9 % 135,00{EURO}" in text
    assert f"Total à payer 1{NARROW}635,00{EURO}" in text
    assert "exonérée de TVA (article 261 C, 2° du Code général des impôts)" in text
    assert "0,09" not in text and "0,0900" not in text  # a rate is a percentage
    assert "0,12 % par mois" in text


def test_the_payment_terms_name_the_late_interest_and_the_recovery_indemnity(
    invoice: Invoice,
) -> None:
    text = text_of(invoice)
    due = f"{invoice.due_on:%d/%m/%Y}"
    assert f"au plus tard le {due}" in text
    assert "pas d'escompte pour paiement anticipé" in text
    assert "pénalités de retard au taux de refinancement de la Banque centrale européenne" in text
    assert f"indemnité forfaitaire pour frais de recouvrement de 40{EURO}" in text
    assert "L. 441-10" in text


def test_a_prorata_invoice_shows_each_lines_days_in_force(world: World) -> None:
    contract = world.alice.contract
    set_terms(contract, premium_basis=PremiumBasis.PRORATA)
    guarantee(contract, BuyerFactory.create(name="Revendeur Ouest"), "31000", date(2026, 10, 22))
    guarantee(contract, BuyerFactory.create(name="Revendeur Sud"), "31000", date(2026, 1, 1))
    with insurer_scope():
        lines = pdf_text(invoice_pdf_render(invoice=issued(contract, OCTOBER))).splitlines()
    header = next(line for line in lines if line.startswith("Acheteur"))
    assert "Jours" in header.split()
    rows = {line.split()[1]: line.split() for line in lines if line.startswith("Revendeur")}
    # 31 000 × 10 days × 0.12 % / 31 = 12.00; the whole month: 37.20
    assert rows["Ouest"][-2:] == ["10", "12,00"]
    assert rows["Sud"][-2:] == ["31", "37,20"]


def test_a_credit_note_states_the_exemption_but_asks_for_no_payment(
    invoice: Invoice, world: World
) -> None:
    from billing.services import credit_note_issue

    with insurer_scope():
        note = credit_note_issue(
            invoice=invoice, full=True, reason="Garantie annulée", actor=world.staff["finance_ops"]
        )
    text = text_of(note)
    assert "Total de l'avoir -1" in text and "exonérée de TVA" in text
    assert "pénalités de retard" not in text and "IBAN" not in text


def test_the_study_report_and_the_indemnity_statement_share_the_identity_block(
    world: World,
) -> None:
    from django.template.loader import render_to_string

    for document in ["studies/report_pdf.html", "claims/statement_pdf.html"]:
        with open(settings.BASE_DIR / "templates" / document, encoding="utf-8") as source:
            assert '{% include "_pdf_parties.html" %}' in source.read(), document
    block = render_to_string(
        "_pdf_parties.html", {"issuer": None, "policyholder": world.alice.organisation}
    )
    assert f"Société anonyme au capital de 12{NARROW}000{NARROW}000{EURO}" in block
    assert "RCS Paris 542 065 479" in block and "ACPR" in block
    assert world.alice.organisation.name in block

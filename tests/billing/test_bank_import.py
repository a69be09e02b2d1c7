"""A bank statement CSV: each line is matched to an invoice by the number in its label and gets
a verdict naming the line and the fix; the recognised lines are recorded in one transaction,
once (importing the same file again records nothing); an unreadable file stores nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import services
from billing.models import Payment, PaymentSource
from portal.timeutils import business_today
from studies.parsing import FileRefused
from tests.support.payments import invoice_for
from tests.support.scopes import insurer_scope
from tests.support.world import World


def statement(*rows: str, delimiter: str = ";", encoding: str = "utf-8-sig") -> bytes:
    header = delimiter.join(["Date opération", "Libellé", "Montant"])
    return "\r\n".join([header, *rows]).encode(encoding)


def test_recognised_lines_are_recorded_and_the_others_get_a_verdict(world: World) -> None:
    alice = invoice_for(world.alice, "1000000")  # 1 200.00 + 108.00 = 1 308.00
    bob = invoice_for(world.bob)  # 65.40
    today = f"{business_today():%d/%m/%Y}"
    content = statement(
        f"{today};VIR SEPA ALICE {alice.number} ACOMPTE;1 000,00",
        f"{today};VIR BOB {bob.number};65,40",
        f"{today};VIR SANS NUMERO;12,00",
        f"{today};VIR {alice.number.replace('0000', '9999')};5,00",
        f"{today};VIR ALICE SOLDE {alice.number};400,00",
        f"31/02/2026;VIR {bob.number};1,00",
        f"{today};PRELEVEMENT {bob.number};-10,00",
    )
    ops = world.staff["finance_ops"]
    with insurer_scope():
        verdicts = services.bank_statement_import(content=content, actor=ops)
        recorded = Payment.objects.select_related("invoice")
        payments = sorted((p.invoice.number, p.amount, p.source) for p in recorded)
    assert [v.accepted for v in verdicts] == [True, True, False, False, False, False, False]
    assert payments == sorted(
        [
            (alice.number, Decimal("1000.00"), PaymentSource.BANK_IMPORT),
            (bob.number, Decimal("65.40"), PaymentSource.BANK_IMPORT),
        ]
    )
    errors = [v.error for v in verdicts if not v.accepted]
    assert errors[0].startswith("Ligne 4 : aucun numéro de facture")
    assert errors[1].startswith("Ligne 5 : la facture UP-") and "n'existe pas" in errors[1]
    # 1 000 already taken from 1 308.00 by line 2 of the same file
    assert errors[2].startswith("Ligne 6 : Le montant (400.00 EUR) dépasse le solde dû")
    assert "308.00" in errors[2]
    assert errors[3].startswith("Ligne 7 : date « 31/02/2026 » illisible")
    assert errors[4].startswith("Ligne 8 : montant -10,00")


def test_importing_the_same_statement_twice_records_each_payment_once(world: World) -> None:
    invoice = invoice_for(world.alice)
    line = f'{business_today():%d/%m/%Y},VIR {invoice.number},"30,00"'
    content = statement(line, delimiter=",", encoding="cp1252")
    ops = world.staff["finance_ops"]
    with insurer_scope():
        services.bank_statement_import(content=content, actor=ops)
        again = services.bank_statement_import(content=content, actor=ops)
        assert Payment.objects.count() == 1
    assert "doublon" in again[0].error


def test_a_fully_paid_invoice_is_named_as_already_paid(world: World) -> None:
    invoice = invoice_for(world.alice)
    today = f"{business_today():%d/%m/%Y}"
    content = statement(f"{today};A {invoice.number};65,40", f"{today};B {invoice.number};1,00")
    with insurer_scope():
        verdicts = services.bank_statement_verdicts(content=content)
    assert verdicts[0].accepted
    assert verdicts[1].error == f"Ligne 3 : La facture {invoice.number} est déjà réglée."


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x00\x01\x02binary", "wrong_type"),
        (b"Date;Montant\n01/10/2026;12,00\n", "missing_columns"),
        ("Date;Libellé;Montant\n".encode(), "empty"),
    ],
)
def test_an_unreadable_file_stores_nothing(world: World, content: bytes, reason: str) -> None:
    with insurer_scope(), pytest.raises(FileRefused) as refused:
        services.bank_statement_import(content=content, actor=world.staff["finance_ops"])
    assert refused.value.code == reason
    with insurer_scope():
        assert not Payment.objects.exists()

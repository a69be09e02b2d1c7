"""Premium invoices computed by hand for both bases (DESIGN §4). Rate 0.0012 unless stated."""

from __future__ import annotations

import time
import uuid
from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.services import invoice_issue
from tests.support.billing import guarantee, issued, set_terms
from tests.support.factories import BuyerFactory
from tests.support.scopes import insurer_scope
from tests.support.world import World
from underwriting.models import Buyer, Contract, GuaranteeChange, PremiumBasis

OCTOBER = date(2026, 10, 1)  # 31 days

OctoberBook = tuple[Contract, dict[str, Buyer]]


def lines_of(invoice: Invoice) -> dict[str, tuple[Decimal, int | None, Decimal]]:
    return {
        line.buyer_name: (line.base, line.days_in_force, line.premium)
        for line in invoice.lines.order_by("position")
    }


@pytest.fixture
def october_book(world: World) -> OctoberBook:
    """One contract's guarantees around October 2026.

    A: 40 000 granted mid-month, from 15/10 (open-ended).
    B: 30 000 since 01/09, increased to 50 000 from 10/10, reduced to 20 000 from 20/10.
    C: 25 000 since 01/09, ended by the buyer's liquidation judged on 12/10.
    D: a seasonal 60 000 valid until 30/09 (stored upper bound 01/10): not in force in October.
    E: 12 345,67 all month.
    """
    contract = world.alice.contract
    buyers = {name: BuyerFactory.create(name=name) for name in "ABCDE"}
    guarantee(contract, buyers["A"], "40000", date(2026, 10, 15))
    guarantee(contract, buyers["B"], "30000", date(2026, 9, 1), date(2026, 10, 10))
    guarantee(
        contract,
        buyers["B"],
        "50000",
        date(2026, 10, 10),
        date(2026, 10, 20),
        GuaranteeChange.INCREASE,
    )
    guarantee(contract, buyers["B"], "20000", date(2026, 10, 20), None, GuaranteeChange.REDUCTION)
    guarantee(contract, buyers["C"], "25000", date(2026, 9, 1), date(2026, 10, 12))
    guarantee(contract, buyers["D"], "60000", date(2026, 7, 1), date(2026, 10, 1))
    guarantee(contract, buyers["E"], "12345.67", date(2026, 1, 1))
    return contract, buyers


def issue(contract: Contract, month: date) -> Invoice:
    with insurer_scope():
        return issued(contract, month)


def test_peak_base_is_the_highest_limit_in_force_in_the_month(october_book: OctoberBook) -> None:
    contract, _ = october_book
    invoice = issue(contract, OCTOBER)
    with insurer_scope():
        lines = lines_of(invoice)
    # A: peak 40 000 × 0.0012 = 48.00 (granted on the 15th: still the month's peak)
    # B: peak 50 000 (the increase, before the reduction) × 0.0012 = 60.00
    # C: peak 25 000 × 0.0012 = 30.00 (in force until the liquidation)
    # D: seasonal limit ended on 30/09: no line
    # E: 12 345.67 × 0.0012 = 14.814804 → 14.81
    assert lines == {
        "A": (Decimal("40000.00"), 17, Decimal("48.00")),
        "B": (Decimal("50000.00"), 31, Decimal("60.00")),
        "C": (Decimal("25000.00"), 11, Decimal("30.00")),
        "E": (Decimal("12345.67"), 31, Decimal("14.81")),
    }
    # 48.00 + 60.00 + 30.00 + 14.81
    assert invoice.premium_total == Decimal("152.81")
    assert invoice.minimum_adjustment == Decimal("0.00")
    assert invoice.tax_amount == Decimal("0.00")
    assert invoice.total == Decimal("152.81")
    assert invoice.days_in_month == 31


def test_prorata_base_counts_the_days_each_amount_was_in_force(october_book: OctoberBook) -> None:
    contract, _ = october_book
    set_terms(contract, premium_basis=PremiumBasis.PRORATA)
    invoice = issue(contract, OCTOBER)
    with insurer_scope():
        lines = lines_of(invoice)
        amount_days = {line.buyer_name: line.amount_days for line in invoice.lines.all()}
    # A: 40 000 × 17 days (15→31) = 680 000; base 680 000 / 31 = 21 935.48;
    #    premium 680 000 × 0.0012 / 31 = 816 / 31 = 26.3226 → 26.32
    # B: 30 000 × 9 (1→9) + 50 000 × 10 (10→19) + 20 000 × 12 (20→31) = 1 010 000;
    #    base 32 580.65; premium 1 212 / 31 = 39.0968 → 39.10
    # C: 25 000 × 11 (1→11) = 275 000; base 8 870.97; premium 330 / 31 = 10.6452 → 10.65
    # E: 12 345.67 × 31; base 12 345.67; premium 14.814804 → 14.81
    assert lines == {
        "A": (Decimal("21935.48"), 17, Decimal("26.32")),
        "B": (Decimal("32580.65"), 31, Decimal("39.10")),
        "C": (Decimal("8870.97"), 11, Decimal("10.65")),
        "E": (Decimal("12345.67"), 31, Decimal("14.81")),
    }
    assert amount_days["B"] == Decimal("1010000.00")
    # 26.32 + 39.10 + 10.65 + 14.81
    assert invoice.total == Decimal("90.88")


@pytest.mark.parametrize(
    ("month", "days_in_force", "base", "premium"),
    [
        # 10 000 from the 15th. February 2026, 28 days: 14 days; 140 000 × 0.0012 / 28 = 6.00
        (date(2026, 2, 1), 14, "5000.00", "6.00"),
        # February 2024 (leap), 29 days: 15 days; 180 / 29 = 6.2069 → 6.21; base 5 172.41
        (date(2024, 2, 1), 15, "5172.41", "6.21"),
        # April 2026, 30 days: 16 days; 192 / 30 = 6.40; base 5 333.33
        (date(2026, 4, 1), 16, "5333.33", "6.40"),
        # October 2026, 31 days: 17 days; 204 / 31 = 6.5806 → 6.58; base 5 483.87
        (date(2026, 10, 1), 17, "5483.87", "6.58"),
    ],
)
def test_prorata_divides_by_the_days_of_the_month(
    world: World, month: date, days_in_force: int, base: str, premium: str
) -> None:
    contract = world.alice.contract
    set_terms(contract, premium_basis=PremiumBasis.PRORATA, starts_on=date(2024, 1, 1))
    guarantee(contract, BuyerFactory.create(name="Mid"), "10000", month.replace(day=15))
    invoice = issue(contract, month)
    with insurer_scope():
        assert lines_of(invoice) == {"Mid": (Decimal(base), days_in_force, Decimal(premium))}


def test_a_peak_line_on_a_month_of_28_days_is_the_full_rate(world: World) -> None:
    # Peak ignores the number of days: 10 000 from 15/02/2026 → 10 000 × 0.0012 = 12.00
    contract = world.alice.contract
    guarantee(contract, BuyerFactory.create(name="Feb"), "10000", date(2026, 2, 15))
    invoice = issue(contract, date(2026, 2, 1))
    assert invoice.total == Decimal("12.00")
    assert invoice.days_in_month == 28


def test_line_premiums_round_half_up_to_the_cent(world: World) -> None:
    # 1 237.50 × 0.0012 = 1.485 exactly → 1.49 (half up; half-even would give 1.48)
    contract = world.alice.contract
    guarantee(contract, BuyerFactory.create(name="Half"), "1237.50", date(2026, 1, 1))
    assert issue(contract, OCTOBER).total == Decimal("1.49")


def test_the_total_is_the_sum_of_rounded_lines(world: World) -> None:
    # Three buyers at 1 004.17: each 1.205004 → 1.21; total 3.63 (rounding the sum, 3.615012,
    # would give 3.62)
    contract = world.alice.contract
    for name in ("X", "Y", "Z"):
        guarantee(contract, BuyerFactory.create(name=name), "1004.17", date(2026, 1, 1))
    invoice = issue(contract, OCTOBER)
    assert invoice.premium_total == Decimal("3.63")


def test_a_minimum_premium_adds_an_adjustment_and_the_tax_applies_to_both(world: World) -> None:
    # Lines: 40 000 × 0.0012 = 48.00 < minimum 150.00 → adjustment 102.00;
    # tax 9 % × 150.00 = 13.50; total 163.50
    contract = world.alice.contract
    set_terms(contract, minimum_premium=Decimal("150.00"), tax_rate=Decimal("0.0900"))
    guarantee(contract, BuyerFactory.create(name="A"), "40000", date(2026, 10, 15))
    invoice = issue(contract, OCTOBER)
    assert (invoice.premium_total, invoice.minimum_adjustment, invoice.tax_amount) == (
        Decimal("48.00"),
        Decimal("102.00"),
        Decimal("13.50"),
    )
    assert invoice.total == Decimal("163.50")


def test_tax_is_rounded_on_the_premium_above_the_minimum(october_book: OctoberBook) -> None:
    # Lines 152.81 ≥ minimum 150 → no adjustment; tax 9 % × 152.81 = 13.7529 → 13.75;
    # total 166.56
    contract, _ = october_book
    set_terms(contract, minimum_premium=Decimal("150.00"), tax_rate=Decimal("0.0900"))
    invoice = issue(contract, OCTOBER)
    assert (invoice.minimum_adjustment, invoice.tax_amount, invoice.total) == (
        Decimal("0.00"),
        Decimal("13.75"),
        Decimal("166.56"),
    )


def test_a_contract_with_nothing_in_force_and_no_minimum_gets_no_invoice(world: World) -> None:
    with insurer_scope():
        assert invoice_issue(contract=world.bob.contract, month=OCTOBER) is None
        assert not Invoice.objects.exists()


def test_a_contract_with_a_minimum_is_billed_the_minimum_when_nothing_is_in_force(
    world: World,
) -> None:
    contract = world.bob.contract
    set_terms(contract, minimum_premium=Decimal("150.00"))
    invoice = issue(contract, OCTOBER)
    assert (invoice.premium_total, invoice.minimum_adjustment, invoice.total) == (
        Decimal("0.00"),
        Decimal("150.00"),
        Decimal("150.00"),
    )


def test_the_invoice_copies_identities_and_terms(october_book: OctoberBook, world: World) -> None:
    contract, _ = october_book
    invoice = issue(contract, OCTOBER)
    assert invoice.policyholder_id == world.alice.organisation.pk
    assert invoice.policyholder_name == world.alice.organisation.name
    assert invoice.policyholder_siren == world.alice.organisation.siren
    assert invoice.insurer_name == world.insurer.name
    assert invoice.contract_number == contract.number
    assert invoice.monthly_rate == Decimal("0.0012")
    with insurer_scope():
        siren = {line.buyer_identifier for line in invoice.lines.all()}
    assert all(len(value) == 9 for value in siren)


def test_lines_get_distinct_time_ordered_ids(october_book: OctoberBook) -> None:
    """PostgreSQL writes the lines with UUID v7 ids (`premium_sql.UUID7`): version 7, the RFC
    variant, the time of the issue in their first 48 bits, and each one its own."""
    contract, _ = october_book
    before = time.time_ns() // 1_000_000
    invoice = issue(contract, OCTOBER)
    after = time.time_ns() // 1_000_000
    with insurer_scope():
        ids = list(invoice.lines.values_list("pk", flat=True))
    assert len(set(ids)) == len(ids) == 4  # A, B, C and E; D was not in force
    for pk in ids:
        assert (pk.version, pk.variant) == (7, uuid.RFC_4122)
        assert before - 1000 <= pk.int >> 80 <= after + 1000  # the server's clock, in ms

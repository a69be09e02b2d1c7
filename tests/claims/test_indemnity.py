"""The layered top-up indemnity of DESIGN §4, computed by hand and checked against properties.

Hand-computed cases first (each comment is the arithmetic a credit manager would do), then
Hypothesis over random invoices and limit histories."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from claims.indemnity import (
    InvoiceInput,
    closed_form,
    indemnity_compute,
    payments_allocate,
    recovery_due_back,
)

Q90 = Decimal("0.90")
D = Decimal


def invoice(
    number: str,
    amount: str,
    *,
    delivered: date = date(2026, 6, 1),
    primary: str = "40000",
    top_up: str = "40000",
    exclusion: str = "",
    invoiced: date | None = None,
) -> InvoiceInput:
    return InvoiceInput(
        number=number,
        amount=D(amount),
        invoice_date=invoiced or delivered,
        delivery_date=delivered,
        due_date=delivered + timedelta(days=60),
        primary_limit=D(primary),
        top_up_limit=D(top_up),
        exclusion=exclusion,
    )


def test_the_seed_case() -> None:
    # Loss 100 000, P 40 000, T 40 000: the top-up layer is [40 000, 80 000], 40 000 of loss
    # falls in it; q = 90 % → 36 000 (the primary pays 90 % of its 40 000: 36 000 too).
    result = indemnity_compute([invoice("F1", "100000")], insured_percentage=Q90)
    assert result.amount == D("36000.00")
    [line] = result.lines
    assert (line.loss_before, line.loss_after) == (D("0"), D("100000"))
    assert (line.layer_from, line.layer_to, line.top_up_part) == (
        D("40000"),
        D("80000"),
        D("40000"),
    )


def test_a_loss_inside_the_primary_layer_pays_nothing_from_the_top_up() -> None:
    # 30 000 < P = 40 000: the loss never reaches the top-up layer.
    result = indemnity_compute(
        [invoice("F1", "12000"), invoice("F2", "18000")], insured_percentage=Q90
    )
    assert result.amount == D("0.00")


def test_a_loss_above_total_cover_pays_the_whole_layer_only() -> None:
    # 250 000 of loss over [40 000, 80 000]: the part is 40 000 → 36 000.
    result = indemnity_compute(
        [invoice("F1", "150000"), invoice("F2", "100000", delivered=date(2026, 6, 5))],
        insured_percentage=Q90,
    )
    assert [line.top_up_part for line in result.lines] == [D("40000"), D("0")]
    assert result.amount == D("36000.00")


def test_a_top_up_reduced_between_two_deliveries() -> None:
    # F1 (delivered under T = 40 000): C 0 → 50 000, layer [40 000, 80 000] → part 10 000.
    # F2 (delivered after the cut to T = 10 000): C 50 000 → 90 000, layer [40 000, 50 000]
    # → part 0 (the loss is already above the layer's top). Total 10 000 × 90 % = 9 000.
    result = indemnity_compute(
        [
            invoice("F1", "50000", delivered=date(2026, 6, 1)),
            invoice("F2", "40000", delivered=date(2026, 7, 1), top_up="10000"),
        ],
        insured_percentage=Q90,
    )
    assert [line.top_up_part for line in result.lines] == [D("10000"), D("0")]
    assert result.amount == D("9000.00")


def test_an_invoice_outside_any_top_up_period_is_not_paid_and_adds_no_loss() -> None:
    # F1 was delivered before the top-up started: excluded. F2 alone: 60 000 over [40 000,
    # 80 000] → 20 000 → 18 000.
    result = indemnity_compute(
        [
            invoice(
                "F1", "30000", delivered=date(2026, 1, 5), top_up="0", exclusion="outside_top_up"
            ),
            invoice("F2", "60000", delivered=date(2026, 6, 1)),
        ],
        insured_percentage=Q90,
    )
    assert [line.covered for line in result.lines] == [False, True]
    assert result.amount == D("18000.00")


def test_late_declaration_and_credit_term_beyond_the_maximum_are_excluded() -> None:
    result = indemnity_compute(
        [
            invoice("F1", "90000", exclusion="declared_late"),
            invoice("F2", "90000", exclusion="credit_term"),
        ],
        insured_percentage=Q90,
    )
    assert result.amount == D("0.00")
    assert [line.exclusion for line in result.lines] == ["declared_late", "credit_term"]


def test_a_partial_payment_by_the_buyer_reduces_the_oldest_invoice_first() -> None:
    # The buyer paid 25 000: F1 (invoiced first) is paid 20 000 in full, F2 5 000 of 80 000.
    # Loss 75 000 over [40 000, 80 000] → 35 000 × 90 % = 31 500.
    invoices = [
        invoice("F2", "80000", delivered=date(2026, 6, 10)),
        invoice("F1", "20000", delivered=date(2026, 6, 1)),
    ]
    assert payments_allocate(invoices, D("25000")) == {"F1": D("20000"), "F2": D("5000")}
    result = indemnity_compute(invoices, insured_percentage=Q90, buyer_payments=D("25000"))
    assert result.loss == D("75000")
    assert result.amount == D("31500.00")


def test_rounding_is_half_up_once_on_the_total() -> None:
    # Parts 0,05 + 0,05 in the layer, q = 0,85: 0,085 → 0,09 (half up), not 0,04 + 0,04.
    result = indemnity_compute(
        [
            invoice("F1", "100.05", primary="100", top_up="1"),
            invoice("F2", "0.05", primary="100", top_up="1", delivered=date(2026, 6, 2)),
        ],
        insured_percentage=D("0.85"),
    )
    assert result.exact == D("0.0850")
    assert result.amount == D("0.09")
    assert result.rounding == D("0.0050")


def test_a_recovery_after_payment_is_shared_pro_rata() -> None:
    # The primary paid 36 000, the top-up 36 000; 10 000 recovered → 5 000 due back to us.
    assert recovery_due_back(
        recovered=D("10000"), top_up_paid=D("36000"), primary_paid=D("36000")
    ) == D("5000.00")
    # Never more than the top-up paid.
    assert recovery_due_back(
        recovered=D("500000"), top_up_paid=D("9000"), primary_paid=D("0")
    ) == D("9000")


# --- properties ------------------------------------------------------------------------------

amounts = st.decimals(min_value=D("0.01"), max_value=D("200000"), places=2)
limits = st.decimals(min_value=D("0"), max_value=D("150000"), places=2)
percentages = st.decimals(min_value=D("0.50"), max_value=D("1.00"), places=2)


@st.composite
def claims(draw: st.DrawFn, *, constant: bool = False) -> tuple[list[InvoiceInput], Decimal]:
    count = draw(st.integers(min_value=1, max_value=8))
    primary, top_up = draw(limits), draw(limits)
    invoices = []
    for index in range(count):
        if not constant:
            primary, top_up = draw(limits), draw(limits)
        delivered = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 300)))
        outside = not constant and draw(st.booleans()) and draw(st.booleans())
        invoices.append(
            InvoiceInput(
                number=f"F{index}",
                amount=draw(amounts),
                invoice_date=delivered,
                delivery_date=delivered,
                due_date=delivered + timedelta(days=60),
                primary_limit=primary,
                top_up_limit=D("0") if outside else top_up,
                exclusion="outside_top_up" if outside else "",
            )
        )
    return invoices, draw(percentages)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(claims())
def test_the_top_up_pays_at_most_q_times_its_widest_layer(
    case: tuple[list[InvoiceInput], Decimal],
) -> None:
    invoices, q = case
    covered = [i for i in invoices if not i.exclusion]
    result = indemnity_compute(invoices, insured_percentage=q)
    if not covered:
        assert result.amount == 0
        return
    highest_total = max(i.primary_limit + i.top_up_limit for i in covered)
    lowest_primary = min(i.primary_limit for i in covered)
    bound = q * max(D("0"), highest_total - lowest_primary)
    assert result.exact <= bound
    assert result.amount <= bound + D("0.005")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(claims())
def test_nothing_is_paid_while_the_loss_stays_within_the_lowest_primary(
    case: tuple[list[InvoiceInput], Decimal],
) -> None:
    invoices, q = case
    covered = [i for i in invoices if not i.exclusion]
    result = indemnity_compute(invoices, insured_percentage=q)
    if covered and sum(i.amount for i in covered) <= min(i.primary_limit for i in covered):
        assert result.amount == 0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(claims())
def test_an_invoice_outside_a_top_up_period_is_never_paid(
    case: tuple[list[InvoiceInput], Decimal],
) -> None:
    invoices, q = case
    result = indemnity_compute(invoices, insured_percentage=q)
    for line in result.lines:
        if not line.covered:
            assert line.top_up_part == 0 and line.insured_part == 0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(claims(constant=True))
def test_with_constant_limits_the_layers_add_up_to_the_closed_form(
    case: tuple[list[InvoiceInput], Decimal],
) -> None:
    invoices, q = case
    result = indemnity_compute(invoices, insured_percentage=q)
    first = invoices[0]
    assert result.amount == closed_form(
        loss=sum((i.amount for i in invoices), D("0")),
        primary=first.primary_limit,
        top_up=first.top_up_limit,
        q=q,
    )
    # With constant limits the top-up pays at most q × T.
    assert result.exact <= q * first.top_up_limit

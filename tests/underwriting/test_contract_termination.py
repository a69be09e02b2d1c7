"""The end of a contract (DESIGN §4): terminating or suspending it ends every top-up on it from
the date, as new periods, tells the policyholder, and no premium counts a day outside its dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange
from django.urls import reverse
from django_scopes import scopes_disabled

from billing.models import BillingRunTrigger, Invoice
from billing.services import billing_run_create, billing_run_execute, invoice_issue
from portal.models import AuditEvent, Notification, Role, User
from portal.timeutils import business_today
from tests.support.billing import guarantee
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory, ContractFactory, GuaranteeFactory
from tests.support.scopes import acting_as, insurer_scope
from tests.support.world import World
from underwriting import services
from underwriting.models import (
    Buyer,
    Contract,
    ContractStatus,
    Guarantee,
    GuaranteeChange,
    PremiumBasis,
)

D = Decimal
TERMINATED = "contract.terminated"


@dataclass
class Book:
    """alice's contract with two buyers: A covered since last month, B covered since last month
    with a lower primary the policyholder reported for three weeks from now (a plan)."""

    a: Buyer
    b: Buyer
    since: date
    planned: date


@pytest.fixture
def book(world: World) -> Book:
    since = business_today() - timedelta(days=30)
    planned = business_today() + timedelta(days=21)
    a, b = BuyerFactory.create(name="Acheteur A"), BuyerFactory.create(name="Acheteur B")
    for buyer in (a, b):
        GuaranteeFactory.create(
            contract=world.alice.contract,
            buyer=buyer,
            amount=D("40000"),
            primary_amount=D("40000"),
            period=DateRange(since, None, "[)"),
        )
    manager = world.alice.credit_manager
    with acting_as(manager):
        services.guarantee_primary_report(
            contract=world.alice.contract,
            buyer=b,
            primary_amount=D("15000"),
            effective_on=planned,
            actor=manager,
        )
    return Book(a=a, b=b, since=since, planned=planned)


def periods(contract: Contract, buyer: Buyer) -> list[tuple[Decimal, date, date | None, str]]:
    with insurer_scope():
        return [
            (g.amount, g.period.lower, g.period.upper, g.change)
            for g in Guarantee.objects.filter(contract=contract, buyer=buyer).order_by("period")
        ]


def reloaded(contract: Contract) -> Contract:
    with insurer_scope():
        return Contract.objects.get(pk=contract.pk)


def notified(user: User, action: str) -> bool:
    return Notification.objects.filter(recipient=user, event__action=action).exists()


def assert_cover_ends_on(world: World, book: Book, end: date) -> None:
    contract = world.alice.contract
    assert periods(contract, book.a) == [(D("40000.00"), book.since, end, GuaranteeChange.GRANT)]
    # B's plan (the lower primary in three weeks) is replaced; what had started is kept.
    assert periods(contract, book.b) == [(D("40000.00"), book.since, end, GuaranteeChange.GRANT)]
    with insurer_scope():
        replaced = AuditEvent.objects.get(action="guarantee.plan_replaced")
        closed = AuditEvent.objects.filter(action="guarantee.closed", data__upper=end.isoformat())
        assert replaced.data["lower"] == book.planned.isoformat()
        assert {event.data["change"] for event in closed} == {GuaranteeChange.CONTRACT_END}
        assert closed.count() == 2


def test_terminating_a_contract_ends_every_top_up_and_tells_the_policyholder(
    world: World, book: Book
) -> None:
    admin = world.staff[Role.ADMIN]
    end = business_today() + timedelta(days=10)
    with acting_as(admin):
        ended = services.contract_terminate(
            contract=world.alice.contract, effective_on=end, actor=admin, reason="Non-paiement"
        )
    assert ended == 2
    assert_cover_ends_on(world, book, end)
    contract = reloaded(world.alice.contract)
    assert (contract.status, contract.ends_on) == (ContractStatus.TERMINATED, end - timedelta(1))
    for user in world.alice.users.values():
        assert notified(user, TERMINATED), user
    assert notified(world.staff[Role.ARBITER], TERMINATED)  # alice's dedicated arbiter
    told = Notification.objects.get(recipient=world.alice.credit_manager, event__action=TERMINATED)
    assert contract.number in told.subject
    assert told.link == reverse("contract_detail", args=[contract.pk])
    for user in world.bob.users.values():
        assert not Notification.objects.filter(recipient=user).exists()
    # bob's contract is untouched.
    bob = reloaded(world.bob.contract)
    assert (bob.status, bob.ends_on) == (ContractStatus.ACTIVE, None)


def end_form(end: date, action: str = "terminate") -> dict[str, str]:
    return {"action": action, "effective_on": end.isoformat(), "reason": "Non-paiement"}


def test_the_insurer_admin_terminates_a_contract_from_its_page(world: World, book: Book) -> None:
    admin = client_for(world.staff[Role.ADMIN])
    contract = world.alice.contract
    page = admin.get(reverse("contract_detail", args=[contract.pk]))
    assert page.status_code == 200 and b'data-testid="contract-end"' in page.content
    end = business_today() + timedelta(days=10)
    answer = admin.post(reverse("contract_end", args=[contract.pk]), end_form(end), follow=True)
    assert answer.redirect_chain[-1][0] == reverse("contract_detail", args=[contract.pk])
    assert "2 top-up(s) prennent fin" in answer.content.decode()
    assert_cover_ends_on(world, book, end)
    contract = reloaded(contract)
    assert (contract.status, contract.ends_on) == (ContractStatus.TERMINATED, end - timedelta(1))
    assert notified(world.alice.credit_manager, TERMINATED)
    # Terminated: the form is gone from the page.
    again = admin.get(reverse("contract_detail", args=[contract.pk]))
    assert b'data-testid="contract-end"' not in again.content


def test_a_past_date_is_refused_and_changes_nothing(world: World, book: Book) -> None:
    admin = client_for(world.staff[Role.ADMIN])
    contract = world.alice.contract
    answer = admin.post(
        reverse("contract_end", args=[contract.pk]),
        end_form(business_today() - timedelta(days=1)),
        follow=True,
    )
    assert "rétroactive" in answer.content.decode()
    contract = reloaded(contract)
    assert (contract.status, contract.ends_on) == (ContractStatus.ACTIVE, None)
    assert periods(contract, book.a) == [(D("40000.00"), book.since, None, GuaranteeChange.GRANT)]


@pytest.mark.parametrize(
    "who", ["arbiter", "senior_arbiter", "credit_manager", "org_admin", "charlie", "broker"]
)
def test_only_the_insurer_admin_may_end_a_contract(world: World, book: Book, who: str) -> None:
    user = {
        "arbiter": world.staff[Role.ARBITER],
        "senior_arbiter": world.staff[Role.SENIOR_ARBITER],
        "credit_manager": world.alice.credit_manager,
        "org_admin": world.alice.users[Role.ORG_ADMIN],
        "charlie": world.charlie.users[Role.ORG_ADMIN],
        "broker": world.broker_user,
    }[who]
    client = client_for(user)
    contract = world.alice.contract
    page = client.get(reverse("contract_detail", args=[contract.pk]))
    if who == "charlie":
        assert page.status_code == 404  # the outsider does not see alice's contract at all
    else:
        assert page.status_code == 200
        assert b'data-testid="contract-end"' not in page.content
        assert reverse("contract_end", args=[contract.pk]).encode() not in page.content
    end = business_today() + timedelta(days=10)
    answer = client.post(reverse("contract_end", args=[contract.pk]), end_form(end))
    assert answer.status_code == 404
    contract = reloaded(contract)
    assert (contract.status, contract.ends_on) == (ContractStatus.ACTIVE, None)
    assert periods(contract, book.a) == [(D("40000.00"), book.since, None, GuaranteeChange.GRANT)]


def test_suspending_a_contract_ends_its_top_ups_likewise(world: World, book: Book) -> None:
    admin = world.staff[Role.ADMIN]
    end = business_today() + timedelta(days=10)
    with acting_as(admin):
        ended = services.contract_suspend(
            contract=world.alice.contract, effective_on=end, actor=admin, reason="Impayé de prime"
        )
    assert ended == 2
    assert_cover_ends_on(world, book, end)
    contract = reloaded(world.alice.contract)
    assert contract.status == ContractStatus.SUSPENDED
    assert notified(world.alice.credit_manager, "contract.suspended")


def test_the_page_suspends_a_contract(world: World, book: Book) -> None:
    admin = client_for(world.staff[Role.ADMIN])
    end = business_today() + timedelta(days=10)
    admin.post(reverse("contract_end", args=[world.alice.contract.pk]), end_form(end, "suspend"))
    assert_cover_ends_on(world, book, end)
    assert reloaded(world.alice.contract).status == ContractStatus.SUSPENDED


# --- no premium outside the contract's dates ------------------------------------------------

SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)


def ended_contract(basis: str, last_day: date) -> tuple[Contract, Buyer]:
    """A contract terminated with `last_day` as its last covered day, as the service writes it;
    its buyer's period is left open, so only the contract's dates can bound the premium."""
    contract = ContractFactory.create(
        premium_basis=basis, status=ContractStatus.TERMINATED, ends_on=last_day
    )
    buyer = BuyerFactory.create(name="Négoce Durand")
    guarantee(contract, buyer, "30000", date(2026, 8, 1))
    return contract, buyer


def lines(invoice: Invoice) -> list[tuple[str, Decimal, int | None, Decimal]]:
    with insurer_scope():
        return [
            (line.buyer_name, line.base, line.days_in_force, line.premium)
            for line in invoice.lines.order_by("position")
        ]


def run_month(month: date) -> dict[object, Invoice]:
    run = billing_run_create(month=month, trigger=BillingRunTrigger.COMMAND, actor=None)
    billing_run_execute(run_id=run.pk)
    with insurer_scope():
        return {invoice.contract_id: invoice for invoice in Invoice.objects.filter(month=month)}


def test_a_contract_terminated_mid_month_is_billed_prorata_for_its_last_days_only(
    world: World,
) -> None:
    """Terminated from 15/10: covered 1–14 October, 14 days of 31."""
    contract, _ = ended_contract(PremiumBasis.PRORATA, date(2026, 10, 14))
    september = run_month(SEPTEMBER)[contract.pk]
    # 30 000 × 0.0012 = 36.00 for a full month.
    assert lines(september) == [("Négoce Durand", D("30000.00"), 30, D("36.00"))]
    october = run_month(OCTOBER)[contract.pk]
    expected = (D("30000") * D("0.0012") * 14 / 31).quantize(D("0.01"), ROUND_HALF_UP)
    assert expected == D("16.26")  # 504 / 31 = 16.258…
    base = (D("30000") * 14 / 31).quantize(D("0.01"), ROUND_HALF_UP)
    assert lines(october) == [("Négoce Durand", base, 14, expected)]
    assert october.premium_total == expected


def test_the_same_contract_with_the_period_closed_as_the_service_closes_it_bills_the_same(
    world: World,
) -> None:
    contract = ContractFactory.create(
        premium_basis=PremiumBasis.PRORATA,
        status=ContractStatus.TERMINATED,
        ends_on=date(2026, 10, 14),
    )
    buyer = BuyerFactory.create(name="Négoce Durand")
    guarantee(contract, buyer, "30000", date(2026, 8, 1), date(2026, 10, 15))
    with insurer_scope():
        october = invoice_issue(contract=contract, month=OCTOBER)
    assert october is not None
    assert lines(october) == [("Négoce Durand", D("13548.39"), 14, D("16.26"))]


def test_a_peak_basis_month_after_the_end_gets_no_invoice_line(world: World) -> None:
    contract, _ = ended_contract(PremiumBasis.PEAK, date(2026, 9, 30))
    september = run_month(SEPTEMBER)[contract.pk]
    assert lines(september) == [("Négoce Durand", D("30000.00"), 30, D("36.00"))]
    assert contract.pk not in run_month(OCTOBER)
    with insurer_scope():
        assert invoice_issue(contract=contract, month=OCTOBER) is None
        assert not Invoice.objects.filter(contract=contract, month=OCTOBER).exists()


def test_a_peak_basis_contract_ended_mid_month_is_billed_the_peak_of_its_days(
    world: World,
) -> None:
    """Peak: the highest limit in force on a day within the contract's dates. A 50 000 limit
    that would have started after the end does not count."""
    contract, buyer = ended_contract(PremiumBasis.PEAK, date(2026, 10, 14))
    with insurer_scope():
        Guarantee.objects.filter(contract=contract, buyer=buyer).update(
            period=DateRange(date(2026, 8, 1), date(2026, 10, 20), "[)")
        )
    guarantee(contract, buyer, "50000", date(2026, 10, 20), None, GuaranteeChange.INCREASE)
    october = run_month(OCTOBER)[contract.pk]
    assert lines(october) == [("Négoce Durand", D("30000.00"), 14, D("36.00"))]


def test_a_month_after_the_end_is_not_invoiced_even_with_a_minimum_premium(world: World) -> None:
    contract, _ = ended_contract(PremiumBasis.PEAK, date(2026, 8, 31))
    contract.minimum_premium = D("50.00")
    with scopes_disabled():  # arrangement
        contract.save(update_fields=["minimum_premium"])
    with insurer_scope():
        assert invoice_issue(contract=contract, month=OCTOBER) is None
        assert not Invoice.objects.filter(contract=contract).exists()


def test_the_contract_page_prints_rates_as_percentages(world: World) -> None:
    page = client_for(world.alice.credit_manager).get(
        reverse("contract_detail", args=[world.alice.contract.pk])
    )
    text = page.content.decode()
    assert "0,12 % par mois" in text and "90 %" in text and "0,001200" not in text

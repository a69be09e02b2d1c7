"""The demo world: believable, and seeding it twice changes nothing."""

from __future__ import annotations

from django.core.management import call_command

from portal.models import Organisation, Role, User
from tests.support.scopes import insurer_scope


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    from billing.models import BillingRun, Invoice
    from claims.models import Claim
    from conversations.models import Message
    from monitoring.models import Alert
    from portal.models import Mandate
    from underwriting.models import Buyer, Contract, Guarantee, GuaranteeRequest

    with insurer_scope():
        return {
            "organisations": sorted(Organisation.objects.values_list("pk", "name", "kind")),
            "users": sorted(User.objects.values_list("username", "password", "role")),
            "mandates": sorted(Mandate.objects.values_list("pk", "starts_on")),
            "contracts": sorted(Contract.objects.values_list("pk", "number", "status")),
            "buyers": sorted(Buyer.objects.values_list("pk", "siren", "grade")),
            "requests": sorted(GuaranteeRequest.objects.values_list("pk", "status")),
            "guarantees": sorted(Guarantee.objects.values_list("pk", "amount")),
            "invoices": sorted(Invoice.objects.values_list("number", "total")),
            "runs": sorted(BillingRun.objects.values_list("pk", "issued")),
            "alerts": sorted(Alert.objects.values_list("pk", "rule")),
            "claims": sorted(Claim.objects.values_list("pk", "status")),
            "messages": sorted(Message.objects.values_list("pk", "side")),
        }


def assert_believable_invoices() -> None:
    """Several months billed, never a month before the contract began, premiums that are not
    all the minimum, and invoices paid, partly paid, unpaid and overdue."""
    from billing.models import Invoice
    from billing.premium import month_first
    from billing.selectors import with_balance

    with insurer_scope():
        invoices = list(Invoice.objects.select_related("contract"))
        statuses = set(with_balance(Invoice.objects.all()).values_list("payment_status", flat=True))
        overdue = with_balance(Invoice.objects.all()).filter(overdue=True).count()
    assert len({invoice.month for invoice in invoices}) == 3
    assert all(i.month >= month_first(i.contract.starts_on) for i in invoices)
    assert sum(1 for invoice in invoices if invoice.minimum_adjustment == 0) > len(invoices) // 2
    assert statuses == {"paid", "partly_paid", "unpaid"}
    assert overdue >= 1


def test_the_demo_world_is_believable_and_idempotent(db: None) -> None:
    from stdnum.fr import siren

    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first
    with insurer_scope():
        assert Organisation.objects.filter(kind="policyholder").count() == 4
        roles = set(User.objects.values_list("role", flat=True))
        assert set(Role.values) <= roles
        assert len(first["contracts"]) == 4
    assert len(first["buyers"]) >= 200
    assert first["guarantees"] and first["requests"]
    assert_believable_invoices()
    assert first["alerts"] and first["messages"]
    assert sorted(str(status) for _pk, status in first["claims"]) == ["declared", "paid"]
    assert all(siren.is_valid(str(row[1])) for row in first["buyers"])  # row: (pk, siren, grade)

"""The claims API: the declaration by the wholesaler and by its broker, invoice-level errors,
the seed case's figures once the handler computed, CSV invoices with per-line verdicts,
documents checked by content, filters, idempotent retries, and nobody else's claims."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from claims import services
from claims.invoices_csv import InvoiceData
from claims.models import Claim, ClaimInvoice
from portal.models import Role
from portal.timeutils import business_today
from tests.support.claims import (
    covered_buyer,
    declared,
    handler,
    no_waiting,
    recently_due,
    settled,
    unpaid,
)
from tests.support.clients import token_client
from tests.support.scopes import acting_as, insurer_scope, scope_of
from tests.support.world import World
from underwriting.models import Buyer

pytestmark = pytest.mark.django_db

CLAIMS = "/api/v1/claims/"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
CSV_HEADER = "numero;montant;date de facture;date de livraison;echeance\n"


def as_json(invoice: InvoiceData) -> dict[str, str]:
    return {
        "number": invoice.number,
        "amount": str(invoice.amount),
        "invoice_date": invoice.invoice_date.isoformat(),
        "delivery_date": invoice.delivery_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
    }


def csv_line(invoice: InvoiceData) -> str:
    days = (invoice.invoice_date, invoice.delivery_date, invoice.due_date)
    dates = ";".join(day.strftime("%d/%m/%Y") for day in days)
    return f"{invoice.number};{invoice.amount};{dates}\n"


def declare(client: Client, buyer: Buyer, *invoices: InvoiceData, **extra: Any) -> Any:
    body = {"buyer": str(buyer.pk), "invoices": [as_json(i) for i in invoices], **extra}
    return client.post(CLAIMS, body, content_type="application/json")


def test_the_credit_manager_declares_on_the_active_contract(world: World) -> None:
    buyer = covered_buyer(world.alice, since=business_today() - timedelta(days=100))
    covered = unpaid("F-100", "60000", delivered=recently_due())
    before_top_up = unpaid("F-099", "12500.50", delivered=business_today() - timedelta(days=110))

    answer = declare(token_client(world.alice.credit_manager), buyer, covered, before_top_up)

    assert answer.status_code == 201, answer.json()
    claim = answer.json()
    assert claim["contract"] == str(world.alice.contract.pk)
    assert (claim["status"], claim["invoice_count"], claim["amount_declared"]) == (
        "declared",
        2,
        "72500.50",
    )
    lines = {line["number"]: line for line in claim["invoices"]}
    assert lines["F-100"]["covered"] is True
    assert (lines["F-100"]["primary_limit"], lines["F-100"]["top_up_limit"]) == (
        "40000.00",
        "40000.00",
    )
    assert lines["F-100"]["declaration_deadline"] == (covered.due_date + timedelta(60)).isoformat()
    assert lines["F-099"]["covered"] is False
    assert lines["F-099"]["exclusion"] == "outside_top_up"
    assert lines["F-099"]["exclusion_label"] == "Livrée hors de toute période de top-up"
    waiting = claim["waiting_period"]
    assert waiting["reason"] == "due_date" and waiting["ended"] is False
    assert waiting["ends_on"] == (before_top_up.due_date + timedelta(150)).isoformat()
    assert claim["computation"] is None and claim["indemnity"] is None
    assert claim["primary_settlement"]["outcome"] == ""
    listed = token_client(world.alice.finance).get(CLAIMS).json()
    assert [row["number"] for row in listed["results"]] == [claim["number"]]


def test_a_broker_must_name_the_contract(world: World) -> None:
    client = token_client(world.broker_user)
    buyer = covered_buyer(world.alice)
    invoice = unpaid("F1", "1000", delivered=recently_due())

    missing = declare(client, buyer, invoice)
    named = declare(client, buyer, invoice, contract=str(world.alice.contract.pk))
    bobs = declare(
        client,
        buyer,
        unpaid("F2", "1000", delivered=recently_due()),
        contract=str(world.bob.contract.pk),
    )

    assert missing.status_code == 400 and missing.json()["field"] == "contract"
    assert named.status_code == 201
    assert named.json()["policyholder"] == str(world.alice.organisation.pk)
    assert bobs.status_code == 400 and bobs.json()["field"] == "contract"


def test_the_seed_case_figures_are_in_the_detail_once_computed(world: World) -> None:
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "100000", delivered=recently_due()))
    settled(world, claim, primary_paid="36000")
    with acting_as(handler(world)):
        services.claim_indemnity_compute(claim_id=claim.pk, actor=handler(world))

    detail = token_client(world.alice.credit_manager).get(f"{CLAIMS}{claim.pk}/").json()

    assert detail["status"] == "indemnity_computed"
    assert detail["indemnity"] == "36000.00"
    assert detail["primary_settlement"]["outcome"] == "paid"
    assert detail["primary_settlement"]["amount"] == "36000.00"
    assert detail["waiting_period"]["ended"] is True
    computation = detail["computation"]
    assert (computation["insured_percentage"], computation["loss"]) == ("0.9000", "100000.00")
    assert computation["amount"] == "36000.00"
    assert Decimal(computation["exact"]) == 36000 and Decimal(computation["rounding"]) == 0
    [line] = computation["lines"]
    assert (line["loss_before"], line["loss_after"]) == ("0.00", "100000.00")
    assert (line["layer_from"], line["layer_to"], line["top_up_part"]) == (
        "40000.00",
        "80000.00",
        "40000.00",
    )


def test_an_invoice_error_names_the_invoice_and_its_field(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    buyer = covered_buyer(world.alice)
    good = unpaid("F1", "1000", delivered=recently_due())
    due_before_invoice = InvoiceData(
        number="F2",
        amount=good.amount,
        invoice_date=good.due_date,
        delivery_date=good.delivery_date,
        due_date=good.due_date - timedelta(days=1),
    )

    answer = declare(client, buyer, good, due_before_invoice)
    shape = client.post(
        CLAIMS,
        {"buyer": str(buyer.pk), "invoices": [{**as_json(good), "amount": "beaucoup"}]},
        content_type="application/json",
    )

    assert answer.status_code == 400
    assert answer.json()["field"] == "invoices[1].due_date"
    assert "F2" in answer.json()["detail"]
    assert shape.status_code == 400 and "amount" in shape.json()["invoices"]["0"]
    with scope_of(world.alice):
        assert not Claim.objects.exists()


def test_an_invoice_declared_twice_is_a_conflict(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    buyer = covered_buyer(world.alice)
    declared(world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()))

    again = declare(client, buyer, unpaid("F1", "1000", delivered=recently_due()))

    assert again.status_code == 409
    assert again.json()["code"] == "invoice_already_declared"
    assert again.json()["field"] == "invoices[0].number"


def test_a_late_invoice_is_refused_with_the_date_it_was_due(world: World) -> None:
    buyer = covered_buyer(world.alice)
    delivered = business_today() - timedelta(days=200)  # due 140 days ago, deadline 80 ago

    answer = declare(
        token_client(world.alice.credit_manager), buyer, unpaid("F1", "1000", delivered=delivered)
    )

    assert answer.status_code == 400
    assert answer.json()["field"] == "invoices[0].due_date"
    deadline = delivered + timedelta(days=60 + 60)
    assert deadline.strftime("%d/%m/%Y") in answer.json()["detail"]


def test_filters_are_validated_and_applied(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    first, second = covered_buyer(world.alice), covered_buyer(world.alice)
    declared(world.alice, first, unpaid("F1", "1000", delivered=recently_due()))
    declared(world.alice, second, unpaid("F2", "1000", delivered=recently_due()))

    by_buyer = client.get(CLAIMS, {"buyer": str(first.pk), "status": "declared"}).json()
    bad_status = client.get(CLAIMS, {"status": "lost"})
    bad_buyer = client.get(CLAIMS, {"buyer": "not-a-uuid"})

    assert [row["buyer"]["id"] for row in by_buyer["results"]] == [str(first.pk)]
    assert client.get(CLAIMS, {"status": "paid"}).json()["count"] == 0
    assert bad_status.status_code == 400 and "status" in bad_status.json()
    assert bad_buyer.status_code == 400 and "buyer" in bad_buyer.json()


def test_another_tenant_gets_404_on_the_claim_and_every_sub_route(world: World) -> None:
    claim = declared(
        world.alice, covered_buyer(world.alice), unpaid("F1", "1000", delivered=recently_due())
    )
    url = f"{CLAIMS}{claim.pk}/"
    invoice = unpaid("F9", "1000", delivered=recently_due())
    for user in (world.bob.credit_manager, world.bob.users[Role.ORG_ADMIN]):
        bob = token_client(user)
        assert bob.get(url).status_code == 404
        assert (
            bob.post(f"{url}invoices/", [as_json(invoice)], content_type="application/json")
        ).status_code == 404
        upload = SimpleUploadedFile("f.csv", (CSV_HEADER + csv_line(invoice)).encode())
        assert bob.post(f"{url}invoices/upload/", {"file": upload}).status_code == 404
        pdf = SimpleUploadedFile("f.pdf", PDF)
        assert bob.post(f"{url}documents/", {"file": pdf}).status_code == 404
        assert bob.get(CLAIMS).json()["count"] == 0
    assert token_client(world.broker_user).get(url).status_code == 200
    assert token_client(world.staff[Role.ARBITER]).get(url).status_code == 200
    with scope_of(world.alice):
        assert ClaimInvoice.objects.count() == 1


def test_who_sees_a_claim_but_may_not_act_on_it_gets_404(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()))
    invoice = as_json(unpaid("F2", "1000", delivered=recently_due()))

    finance = declare(
        token_client(world.alice.finance), buyer, unpaid("F3", "1000", delivered=recently_due())
    )
    arbiter = token_client(world.staff[Role.ARBITER]).post(
        f"{CLAIMS}{claim.pk}/invoices/", [invoice], content_type="application/json"
    )

    assert finance.status_code == 404 and arbiter.status_code == 404
    with scope_of(world.alice):
        assert Claim.objects.count() == 1 and ClaimInvoice.objects.count() == 1


def test_invoices_are_added_as_json_or_from_a_csv_with_per_line_verdicts(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    claim = declared(
        world.alice, covered_buyer(world.alice), unpaid("F1", "1000", delivered=recently_due())
    )
    url = f"{CLAIMS}{claim.pk}/invoices/"

    added = client.post(
        url,
        [as_json(unpaid("F2", "2000", delivered=recently_due()))],
        content_type="application/json",
    )
    good = csv_line(unpaid("F3", "1500", delivered=recently_due()))
    wrong = client.post(
        f"{url}upload/",
        {"file": SimpleUploadedFile("f.csv", (CSV_HEADER + good + "F4;rien;;;\n").encode())},
    )
    right = client.post(
        f"{url}upload/", {"file": SimpleUploadedFile("f.csv", (CSV_HEADER + good).encode())}
    )

    assert added.status_code == 201 and [row["number"] for row in added.json()] == ["F2"]
    assert wrong.status_code == 400
    verdicts = wrong.json()
    assert (verdicts["code"], verdicts["field"]) == ("invoice_lines", "file")
    assert [(line["line"], bool(line["errors"])) for line in verdicts["lines"]] == [
        (2, False),
        (3, True),
    ]
    assert any("montant" in error for error in verdicts["lines"][1]["errors"])
    assert right.status_code == 201
    assert [(row["number"], row["amount"]) for row in right.json()] == [("F3", "1500.00")]
    with scope_of(world.alice):
        assert ClaimInvoice.objects.count() == 3


def test_documents_are_checked_by_content_and_downloaded_through_the_claim(world: World) -> None:
    client = token_client(world.broker_user)
    claim = declared(
        world.alice, covered_buyer(world.alice), unpaid("F1", "1000", delivered=recently_due())
    )
    url = f"{CLAIMS}{claim.pk}/documents/"
    with scope_of(world.alice):
        invoice = claim.invoices.get()

    fake = client.post(url, {"file": SimpleUploadedFile("facture.pdf", b"MZ\x90\x00 not a pdf")})
    real = client.post(url, {"file": SimpleUploadedFile("facture.pdf", PDF), "invoice": invoice.pk})

    assert fake.status_code == 400 and fake.json()["field"] == "file"
    assert real.status_code == 201, real.json()
    document = real.json()
    assert (document["name"], document["content_type"]) == ("facture.pdf", "application/pdf")
    assert document["invoice"] == str(invoice.pk)
    assert document["url"].endswith(f"/claims/{claim.pk}/documents/{document['id']}/")
    detail = client.get(f"{CLAIMS}{claim.pk}/").json()
    assert [row["id"] for row in detail["documents"]] == [document["id"]]


def test_a_retried_declaration_with_the_same_key_returns_the_first_claim(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    buyer = covered_buyer(world.alice)
    body = {
        "buyer": str(buyer.pk),
        "invoices": [as_json(unpaid("F1", "1000", delivered=recently_due()))],
    }

    def post(payload: dict[str, Any]) -> Any:
        return client.post(
            CLAIMS, payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY="erp-77"
        )

    first, again = post(body), post(body)
    other = post({**body, "invoices": [as_json(unpaid("F2", "1000", delivered=recently_due()))]})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.json()["field"] == "Idempotency-Key"
    with insurer_scope():
        assert Claim.objects.count() == 1

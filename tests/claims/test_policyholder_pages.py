"""The policyholder's claim pages: declaring (typed rows or a CSV) by the credit manager and by
the broker, refusals shown on the row and field at fault, the claim page's reasons and limits,
who sees which button, documents and the statement PDF kept within the tenant."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.formats import date_format
from pytest_django import DjangoAssertNumQueries, Settings

from claims import services
from claims.invoices_csv import InvoiceData
from claims.models import Claim, ClaimDocument, ClaimInvoice, ClaimStatus
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
from tests.support.clients import client_for
from tests.support.presentation import fr_eur, fr_number
from tests.support.scopes import acting_as, insurer_scope
from tests.support.world import World

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _private_media(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _rows(*invoices: InvoiceData, extra: int = 1) -> dict[str, str]:
    """The declaration formset as the browser posts it: typed rows, then blank ones."""
    data = {
        "invoices-TOTAL_FORMS": str(len(invoices) + extra),
        "invoices-INITIAL_FORMS": "0",
        "invoices-MIN_NUM_FORMS": "0",
        "invoices-MAX_NUM_FORMS": "50",
    }
    for index, invoice in enumerate(invoices):
        data |= {
            f"invoices-{index}-number": invoice.number,
            # The French way, with a thousands separator and a decimal comma.
            f"invoices-{index}-amount": f"{invoice.amount:,.2f}".replace(",", " ").replace(
                ".", ","
            ),
            f"invoices-{index}-invoice_date": _day(invoice.invoice_date),
            f"invoices-{index}-delivery_date": _day(invoice.delivery_date),
            f"invoices-{index}-due_date": invoice.due_date.isoformat(),
        }
    return data


def _csv(*invoices: InvoiceData) -> SimpleUploadedFile:
    lines = ["numero;montant;date de facture;date de livraison;echeance"]
    for invoice in invoices:
        amount = f"{invoice.amount:.2f}".replace(".", ",")
        lines.append(
            f"{invoice.number};{amount};{_day(invoice.invoice_date)};"
            f"{_day(invoice.delivery_date)};{_day(invoice.due_date)}"
        )
    return SimpleUploadedFile("impayes.csv", "\n".join(lines).encode(), content_type="text/csv")


def _seed_case_computed(world: World) -> Claim:
    """DESIGN's seed case (loss 100 000, P 40 000, T 40 000, q 90 %), computed at once."""
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "100000", delivered=recently_due()))
    settled(world, claim)
    with acting_as(handler(world)):
        return services.claim_indemnity_compute(claim_id=claim.pk, actor=handler(world))


def _only_claim() -> Claim:
    with insurer_scope():
        return Claim.objects.select_related("policyholder", "declared_by").get()


# --- declaring ----------------------------------------------------------------------------------


def test_the_credit_manager_declares_typed_invoices(world: World) -> None:
    buyer = covered_buyer(world.alice)
    client = client_for(world.alice.credit_manager)
    page = client.get(reverse("claim_new"))
    assert page.status_code == 200
    assert buyer.name in page.content.decode()  # the contract's buyers are offered

    response = client.post(
        reverse("claim_new"),
        {
            "buyer": str(buyer.pk),
            **_rows(
                unpaid("F-1", "12500", delivered=recently_due()),
                unpaid("F-2", "7500.50", delivered=recently_due(5)),
            ),
        },
    )

    claim = _only_claim()
    assert response.status_code == 302
    assert response["Location"] == reverse("claim_detail", args=[claim.pk])
    assert claim.policyholder == world.alice.organisation
    assert claim.declared_by == world.alice.credit_manager
    with insurer_scope():
        amounts = sorted(ClaimInvoice.objects.values_list("number", "amount"))
    assert amounts == [("F-1", Decimal("12500.00")), ("F-2", Decimal("7500.50"))]
    followed = client.get(response["Location"])
    assert "Sinistre" in followed.content.decode()
    assert "2 factures" in followed.content.decode()


def test_the_credit_manager_declares_from_a_csv(world: World) -> None:
    buyer = covered_buyer(world.alice)
    client = client_for(world.alice.credit_manager)

    response = client.post(
        reverse("claim_new"),
        {
            "buyer": str(buyer.pk),
            **_rows(extra=3),
            "file": _csv(
                unpaid("C-1", "1000", delivered=recently_due()),
                unpaid("C-2", "2000", delivered=recently_due()),
            ),
        },
    )

    assert response.status_code == 302
    with insurer_scope():
        assert sorted(ClaimInvoice.objects.values_list("number", flat=True)) == ["C-1", "C-2"]


def test_a_csv_with_a_bad_line_declares_nothing_and_names_the_line(world: World) -> None:
    buyer = covered_buyer(world.alice)
    good = unpaid("C-1", "1000", delivered=recently_due())
    content = _csv(good).read() + b"\nC-2;abc;01/01/2026;01/01/2026;02/03/2026\n"

    response = client_for(world.alice.credit_manager).post(
        reverse("claim_new"),
        {
            "buyer": str(buyer.pk),
            **_rows(extra=1),
            "file": SimpleUploadedFile("f.csv", content, content_type="text/csv"),
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="verdict-line-3"' in page
    assert "montant illisible" in page
    with insurer_scope():
        assert not Claim.objects.exists()


def test_the_broker_picks_its_client_then_declares(world: World) -> None:
    buyer = covered_buyer(world.alice)
    client = client_for(world.broker_user)
    alice = world.alice.organisation
    # One current mandate: the client is chosen at once.
    first = client.get(reverse("claim_new"))
    assert first.status_code == 302
    assert f"policyholder={alice.pk}" in first["Location"]
    assert buyer.name in client.get(first["Location"]).content.decode()

    response = client.post(
        reverse("claim_new"),
        {
            "policyholder": str(alice.pk),
            "buyer": str(buyer.pk),
            **_rows(unpaid("B-1", "3000", delivered=recently_due())),
        },
    )

    assert response.status_code == 302
    claim = _only_claim()
    assert (claim.policyholder, claim.declared_by) == (alice, world.broker_user)


def test_the_broker_cannot_declare_for_a_policyholder_without_mandate(world: World) -> None:
    buyer = covered_buyer(world.bob)
    response = client_for(world.broker_user).post(
        reverse("claim_new"),
        {
            "policyholder": str(world.bob.organisation.pk),
            "buyer": str(buyer.pk),
            **_rows(unpaid("B-1", "3000", delivered=recently_due())),
        },
    )
    assert response.status_code == 200  # asked to choose among its own clients again
    with insurer_scope():
        assert not Claim.objects.exists()


def test_a_buyer_is_found_by_its_siren(world: World) -> None:
    buyer = covered_buyer(world.bob)  # a buyer alice's contract never covered
    response = client_for(world.alice.credit_manager).get(
        reverse("claim_new"), {"q": buyer.siren or ""}
    )
    assert 'data-testid="claim-buyer-results"' in response.content.decode()
    assert f"buyer={buyer.pk}" in response.content.decode()


def test_a_refusal_is_shown_on_the_row_and_field_it_names(world: World) -> None:
    buyer = covered_buyer(world.alice)
    fine = unpaid("F-1", "1000", delivered=recently_due())
    backwards = InvoiceData(
        number="F-2",
        amount=Decimal("1000"),
        invoice_date=recently_due(),
        delivery_date=recently_due() - timedelta(days=20),
        due_date=recently_due() - timedelta(days=10),  # before its invoice date
    )

    response = client_for(world.alice.credit_manager).post(
        reverse("claim_new"), {"buyer": str(buyer.pk), **_rows(fine, backwards)}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="row-1-due_date-errors"' in page
    assert 'data-testid="row-0-due_date-errors"' not in page
    assert "L&#x27;échéance précède la date de facture" in page
    with insurer_scope():
        assert not Claim.objects.exists()


def test_a_late_invoice_is_refused_with_the_date_it_was_due(world: World) -> None:
    buyer = covered_buyer(world.alice)
    late = unpaid("OLD-1", "1000", delivered=business_today() - timedelta(days=200))
    deadline = late.due_date + timedelta(days=world.alice.contract.declaration_deadline_days)

    response = client_for(world.alice.credit_manager).post(
        reverse("claim_new"), {"buyer": str(buyer.pk), **_rows(late)}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Déclaration hors délai" in page
    assert date_format(deadline, "SHORT_DATE_FORMAT") in page
    assert 'data-testid="row-0-due_date-errors"' in page


def test_an_invoice_declared_twice_is_refused_on_its_row(world: World) -> None:
    buyer = covered_buyer(world.alice)
    invoice = unpaid("F-1", "1000", delivered=recently_due())
    declared(world.alice, buyer, invoice)
    response = client_for(world.alice.credit_manager).post(
        reverse("claim_new"), {"buyer": str(buyer.pk), **_rows(invoice)}
    )
    assert response.status_code == 400
    assert 'data-testid="row-0-number-errors"' in response.content.decode()
    assert "déjà déclarée" in response.content.decode()


# --- the claim page -----------------------------------------------------------------------------


def test_the_claim_page_shows_each_invoice_with_its_reason_and_limits(world: World) -> None:
    buyer = covered_buyer(world.alice, top_up="40000", primary="25000", since=date(2025, 1, 1))
    covered = unpaid("IN", "10000", delivered=recently_due())
    long_term = unpaid("LONG", "3000", delivered=recently_due() - timedelta(days=60), term_days=120)
    # Delivered before any top-up period, yet still in time: due a few days ago.
    outside = InvoiceData(
        number="OUT",
        amount=Decimal("2000"),
        invoice_date=date(2024, 12, 1),
        delivery_date=date(2024, 12, 1),
        due_date=business_today() - timedelta(days=5),
    )
    claim = declared(world.alice, buyer, covered, outside, long_term)

    page = client_for(world.alice.finance).get(reverse("claim_detail", args=[claim.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Couverte par le top-up" in html
    assert "Livrée hors de toute période de top-up" in html
    assert "Durée de crédit au-delà du maximum du contrat" in html
    assert fr_eur(25000) in html and fr_eur(40000) in html
    deadline = covered.due_date + timedelta(days=world.alice.contract.declaration_deadline_days)
    assert date_format(deadline, "SHORT_DATE_FORMAT") in html
    assert "Première échéance + délai de carence" in html
    assert 'data-testid="statement-pending"' in html
    assert "Sinistre déclaré" in html  # the timeline


def test_a_finance_user_sees_claims_but_no_declare_button(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
    client = client_for(world.alice.finance)

    listing = client.get(reverse("claim_list")).content.decode()
    detail = client.get(reverse("claim_detail", args=[claim.pk])).content.decode()

    assert claim.number in listing
    assert 'data-testid="claim-new"' not in listing
    for form in ("claim-add-invoices", "claim-upload", "claim-document-form"):
        assert f'data-testid="{form}"' not in detail
    assert client.get(reverse("claim_new")).status_code == 404
    assert client.post(reverse("claim_invoices_add", args=[claim.pk]), {}).status_code == 404


def test_the_credit_manager_gets_the_forms_and_the_list_its_button(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
    client = client_for(world.alice.credit_manager)
    assert 'data-testid="claim-new"' in client.get(reverse("claim_list")).content.decode()
    detail = client.get(reverse("claim_detail", args=[claim.pk])).content.decode()
    for form in ("claim-add-invoices", "claim-upload", "claim-document-form"):
        assert f'data-testid="{form}"' in detail


def test_the_list_searches_and_filters_by_status_and_adds_up(world: World) -> None:
    first = covered_buyer(world.alice)
    second = covered_buyer(world.alice)
    one = declared(world.alice, first, unpaid("A-1", "1000", delivered=recently_due()))
    declared(world.alice, second, unpaid("B-1", "2500", delivered=recently_due()))
    declared(world.bob, covered_buyer(world.bob), unpaid("Z-1", "9", delivered=recently_due()))
    client = client_for(world.alice.credit_manager)

    everything = client.get(reverse("claim_list")).content.decode()
    assert everything.count('data-testid="claim-row"') == 2
    assert fr_eur(3500) in everything
    found = client.get(reverse("claim_list"), {"q": first.siren or ""}).content.decode()
    assert found.count('data-testid="claim-row"') == 1 and one.number in found
    by_invoice = client.get(reverse("claim_list"), {"q": "A-1"}).content.decode()
    assert by_invoice.count('data-testid="claim-row"') == 1
    none = client.get(reverse("claim_list"), {"status": ClaimStatus.PAID}).content.decode()
    assert 'data-testid="claims-empty"' in none


def test_the_empty_list_says_how_to_declare(world: World) -> None:
    page = client_for(world.alice.credit_manager).get(reverse("claim_list")).content.decode()
    assert 'data-testid="claims-empty"' in page
    assert "Déclarer un impayé" in page


def test_invoices_are_added_by_rows_and_by_csv_with_verdicts(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
    client = client_for(world.alice.credit_manager)

    added = client.post(
        reverse("claim_invoices_add", args=[claim.pk]),
        _rows(unpaid("F-2", "500", delivered=recently_due())),
    )
    assert added.status_code == 302
    refused = client.post(
        reverse("claim_invoices_upload", args=[claim.pk]),
        {
            "file": _csv(
                unpaid("F-3", "700", delivered=recently_due()),
                unpaid("F-1", "1000", delivered=recently_due()),
            )
        },
    )
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'data-testid="verdict-line-3"' in page and "déjà déclarée" in page
    uploaded = client.post(
        reverse("claim_invoices_upload", args=[claim.pk]),
        {"file": _csv(unpaid("F-3", "700", delivered=recently_due()))},
    )
    assert uploaded.status_code == 302
    with insurer_scope():
        numbers = sorted(ClaimInvoice.objects.filter(claim=claim).values_list("number", flat=True))
    assert numbers == ["F-1", "F-2", "F-3"]


def test_an_insurer_handler_reads_the_claim_and_is_sent_to_the_file(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
    page = client_for(handler(world)).get(reverse("claim_detail", args=[claim.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("claim_handle", args=[claim.pk]) in html
    assert 'data-testid="claim-add-invoices"' not in html


def test_the_computed_statement_can_be_checked_by_hand(world: World) -> None:
    claim = _seed_case_computed(world)

    html = client_for(world.alice.credit_manager).get(reverse("claim_detail", args=[claim.pk]))
    page = html.content.decode()
    assert f"0,00 → {fr_eur(100000)}" in page
    assert f"[{fr_number(40000)} ; {fr_number(80000)}] €" in page
    assert "× 90 %" in page
    assert f'data-testid="statement-amount"><strong>{fr_eur(36000)}' in page


def test_the_claim_page_queries_do_not_grow_with_its_rows(
    world: World, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(
        world.alice,
        buyer,
        *(unpaid(f"F-{n}", "100", delivered=recently_due()) for n in range(12)),
    )
    with acting_as(world.alice.credit_manager):
        for n in range(5):
            services.claim_document_add(
                claim_id=claim.pk, name=f"p{n}.pdf", content=PDF, actor=world.alice.credit_manager
            )
    client = client_for(world.alice.credit_manager)
    client.get(reverse("claim_detail", args=[claim.pk]))  # warm the session
    with django_assert_max_num_queries(25):
        assert client.get(reverse("claim_detail", args=[claim.pk])).status_code == 200


# --- documents, statement, template: within the tenant ------------------------------------------


def _document(world: World, claim: Claim, name: str = "facture.pdf") -> ClaimDocument:
    actor = world.alice.credit_manager
    with acting_as(actor):
        return services.claim_document_add(claim_id=claim.pk, name=name, content=PDF, actor=actor)


def test_a_document_is_uploaded_and_downloaded_as_an_attachment(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
    client = client_for(world.alice.credit_manager)

    posted = client.post(
        reverse("claim_document_add", args=[claim.pk]),
        {"file": SimpleUploadedFile("relance.pdf", PDF, content_type="application/pdf")},
    )
    assert posted.status_code == 302
    with insurer_scope():
        document = ClaimDocument.objects.get(claim=claim)

    response = client_for(world.alice.finance).get(
        reverse("claim_document", args=[claim.pk, document.pk])
    )

    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "relance.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_document_that_is_not_a_pdf_or_an_image_is_refused_on_the_page(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
    response = client_for(world.alice.credit_manager).post(
        reverse("claim_document_add", args=[claim.pk]),
        {"file": SimpleUploadedFile("x.pdf", b"MZ\x90\x00", content_type="application/pdf")},
    )
    assert response.status_code == 400
    assert 'data-testid="document-errors"' in response.content.decode()


def test_bob_gets_404_on_alices_claim_documents_and_statement(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
    document = _document(world, claim)
    urls = [
        reverse("claim_detail", args=[claim.pk]),
        reverse("claim_document", args=[claim.pk, document.pk]),
        reverse("claim_statement", args=[claim.pk]),
    ]
    posts = [
        reverse("claim_invoices_add", args=[claim.pk]),
        reverse("claim_invoices_upload", args=[claim.pk]),
        reverse("claim_document_add", args=[claim.pk]),
    ]
    for user in world.bob.users.values():
        client = client_for(user)
        assert [client.get(url).status_code for url in urls] == [404, 404, 404]
        assert [client.post(url, {}).status_code for url in posts] == [404, 404, 404]
    bob_claim = declared(
        world.bob, covered_buyer(world.bob), unpaid("F-9", "9", delivered=recently_due())
    )
    # alice's document through bob's own claim is not found either.
    bob = client_for(world.bob.credit_manager)
    assert bob.get(reverse("claim_document", args=[bob_claim.pk, document.pk])).status_code == 404
    assert client_for(world.broker_user).get(urls[0]).status_code == 200
    assert bob.get(reverse("claim_list")).content.decode().count('data-testid="claim-row"') == 1


def test_the_statement_pdf_is_deterministic(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F-1", "1000", delivered=recently_due()))
    client = client_for(world.alice.credit_manager)
    url = reverse("claim_statement", args=[claim.pk])

    first = client.get(url)
    later = time.time() + 86_400  # a day later: nothing in the file may depend on the clock
    monkeypatch.setattr(time, "time", lambda: later)
    second = client.get(url)

    assert first.status_code == 200
    assert first["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF")
    assert first.content == second.content


def test_the_statement_pdf_carries_the_computation_and_the_legal_mentions(world: World) -> None:
    from claims.pdf import claim_statement_html
    from claims.selectors import claim_detail_data

    claim = _seed_case_computed(world)
    with acting_as(world.alice.credit_manager):
        claim = Claim.objects.select_related("contract", "buyer", "policyholder").get(pk=claim.pk)
        html = claim_statement_html(claim_detail_data(claim))
    assert world.insurer.name in html
    assert claim.contract.number in html and claim.contract.primary_policy_number in html
    assert fr_eur(36000) in html
    assert "L. 121-12" in html


def test_the_csv_template_has_french_columns(world: World) -> None:
    response = client_for(world.alice.credit_manager).get(reverse("claim_invoices_template"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "numero;montant;date de facture;date de livraison;echeance"

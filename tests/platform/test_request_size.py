"""Issue 13, finding 9: a 20 MB multipart file was accepted. Every request body now has an outer
bound, checked before anything reads it, and the answer is a 413 that says the limit."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from claims.models import ClaimDocument
from portal.models import Role
from tests.support.claims import covered_buyer, declared, recently_due, unpaid
from tests.support.clients import client_for, token_client
from tests.support.scopes import scope_of
from tests.support.world import World

TWENTY_MB = 20 * 1024 * 1024
PDF_HEAD = b"%PDF-1.4\n"


def twenty_megabytes(name: str = "releve.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_HEAD + b"0" * TWENTY_MB, content_type="application/pdf")


def test_a_20_mb_claim_document_gets_a_413_in_the_api_and_nothing_is_stored(world: World) -> None:
    claim = declared(
        world.alice, covered_buyer(world.alice), unpaid("F1", "1000", delivered=recently_due())
    )

    response = token_client(world.alice.credit_manager).post(
        f"/api/v1/claims/{claim.pk}/documents/", {"file": twenty_megabytes()}
    )

    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "request_too_large"
    assert "12 Mo" in body["detail"]
    with scope_of(world.alice):
        assert not ClaimDocument.objects.exists()


def test_a_20_mb_upload_from_a_page_gets_a_413_page_that_says_the_limit(world: World) -> None:
    claim = declared(
        world.alice, covered_buyer(world.alice), unpaid("F1", "1000", delivered=recently_due())
    )

    response = client_for(world.alice.credit_manager).post(
        f"/claims/{claim.pk}/documents/", {"file": twenty_megabytes()}
    )

    assert response.status_code == 413
    assert "12 Mo" in response.content.decode()
    with scope_of(world.alice):
        assert not ClaimDocument.objects.exists()


def test_buyer_health_files_have_the_larger_bound(world: World) -> None:
    """Providers export BODACC by the tens of megabytes: 20 MB passes the outer bound and
    reaches the import, which reads it and names what is wrong with it."""
    arbiter = world.staff[Role.ARBITER]
    upload = SimpleUploadedFile("bodacc.json", b"{" + b" " * TWENTY_MB + b"}")

    response = token_client(arbiter).post(
        "/api/v1/health-files/", {"file": upload, "kind": "bodacc"}
    )

    assert response.status_code != 413

"""The policyholder's side of claims: declaration, the claim page, documents, the statement."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def claim_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_new(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_invoices_template(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_detail(request: HttpRequest, claim_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_invoices_add(request: HttpRequest, claim_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_invoices_upload(request: HttpRequest, claim_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_document_add(request: HttpRequest, claim_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_document(request: HttpRequest, claim_id: str, document_id: str) -> HttpResponse:
    raise NotImplementedError  # built next


@login_required
def claim_statement(request: HttpRequest, claim_id: str) -> HttpResponse:
    raise NotImplementedError  # built next

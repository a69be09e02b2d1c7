"""The policyholder's side of claims: the list, the declaration, the claim page with its
invoices, documents and indemnity statement.

Every user in scope sees claims (the insurer's staff too); the policyholder's credit manager or
org admin, and a broker with a current mandate, declare and add invoices and documents
(`page_requires`: anyone else gets 404). Claims come only through the scope, so another tenant's
claim, document or statement is a 404 like a missing one; each POST calls one service and shows
its refusal on the field or row it names, never a 500."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from claims import selectors, services, tables
from claims.forms import (
    BaseInvoiceFormSet,
    BuyerChoiceForm,
    BuyerQueryForm,
    DeclareFileForm,
    DocumentForm,
    InvoiceFileForm,
    PolicyholderChoiceForm,
    apply_invoice_error,
    invoice_formset,
)
from claims.invoices_csv import TEMPLATE, InvoiceLine, read_invoice_csv
from claims.models import Claim, ClaimDocument, ClaimInvoice
from claims.pdf import claim_statement_pdf
from claims.services.declarations import ADDING_STATUSES, invoice_errors
from portal import policy
from portal import selectors as portal_selectors
from portal.errors import DomainError
from portal.forms import apply_domain_error
from portal.http import page_user, stored_file_download
from portal.listing import ListPage, list_page
from portal.policy import page_requires
from underwriting import selectors as underwriting_selectors
from underwriting.models import Buyer, Contract

readers = page_requires(policy.can_see_cover)
declarers = page_requires(policy.can_declare_claims)


def _claim(claim_id: UUID | str) -> Claim:
    return get_object_or_404(
        Claim.objects.select_related("contract", "buyer", "policyholder"), pk=claim_id
    )


def _disposition(*, attachment: bool, filename: str) -> str:
    header = content_disposition_header(as_attachment=attachment, filename=filename)
    return header or ("attachment" if attachment else "inline")


# --- the list ---------------------------------------------------------------------------------


@readers
@require_GET
def claim_list(request: HttpRequest) -> HttpResponse:
    organisation = page_user(request).organisation
    page = ListPage(
        request,
        queryset=selectors.claims_visible(),
        table_class=tables.ClaimTable,
        filterset_class=tables.ClaimFilterSet,
        totals=tables.CLAIM_TOTALS,
        # A policyholder's users know whose claims these are.
        exclude=("policyholder",) if organisation and organisation.is_policyholder else (),
    )
    return list_page(request, template="claims/claim_list.html", page=page, export_name="sinistres")


# --- declaring --------------------------------------------------------------------------------


def _csv_verdicts(contract: Contract, content: bytes) -> list[InvoiceLine]:
    """The file's lines, each with its verdict against the contract (readable, due, in time,
    not twice in the file). Raises RuleViolation when the file cannot be read at all."""
    checked: list[InvoiceLine] = []
    seen: dict[str, int] = {}
    for line in read_invoice_csv(content):
        if line.invoice is None:
            checked.append(line)
            continue
        errors = [
            message for _field, message in invoice_errors(contract=contract, data=line.invoice)
        ]
        if line.invoice.number in seen:
            errors.append(_("même n° qu'à la ligne %(line)s") % {"line": seen[line.invoice.number]})
        seen.setdefault(line.invoice.number, line.line)
        checked.append(InvoiceLine(line=line.line, invoice=line.invoice, errors=tuple(errors)))
    return checked


def _with_error(lines: list[InvoiceLine], error: DomainError) -> list[InvoiceLine]:
    """A service's refusal naming `invoices[<i>]` shown on the i-th line of the file."""
    index = _invoice_index(error.field)
    if index is None or index >= len(lines):
        return lines
    line = lines[index]
    return [
        *lines[:index],
        InvoiceLine(line=line.line, invoice=line.invoice, errors=(*line.errors, error.message)),
        *lines[index + 1 :],
    ]


def _invoice_index(field: str | None) -> int | None:
    """`invoices[2].due_date` → 2."""
    if field and field.startswith("invoices[") and "]" in field:
        value = field[len("invoices[") : field.index("]")]
        return int(value) if value.isdigit() else None
    return None


@declarers
def claim_new(request: HttpRequest) -> HttpResponse:
    """Choose the client (a broker), the buyer, then type the invoices or give a CSV."""
    user = page_user(request)
    data = request.POST if request.method == "POST" else request.GET
    policyholders = portal_selectors.visible_policyholders().order_by("name")
    client_form = PolicyholderChoiceForm(
        data if "policyholder" in data else None, policyholders=policyholders
    )
    context: dict[str, Any] = {"client_form": client_form, "is_broker": False}
    if policy.is_broker_user(user):
        context["is_broker"] = True
        if not client_form.is_valid():
            if policyholders.count() == 1 and "policyholder" not in data:
                return redirect(f"{reverse('claim_new')}?policyholder={policyholders.get().pk}")
            return render(request, "claims/claim_new.html", context)
        policyholder = client_form.cleaned_data["policyholder"]
    else:
        policyholder = user.organisation
    contract = selectors.claim_contract_for(policyholder_id=policyholder.pk)
    context.update(policyholder=policyholder, contract=contract)
    if contract is None:
        return render(request, "claims/claim_new.html", context)
    buyer_form = BuyerChoiceForm(data if "buyer" in data else None)
    if not buyer_form.is_valid():
        search = BuyerQueryForm(request.GET if "q" in request.GET else None)
        context.update(
            buyers=selectors.contract_buyers(contract=contract),
            search=search,
            results=(
                underwriting_selectors.buyer_search(query=search.cleaned_data["q"])
                if search.is_valid()
                else None
            ),
        )
        return render(request, "claims/claim_new.html", context)
    buyer: Buyer = buyer_form.cleaned_data["buyer"]
    post = request.method == "POST"
    formset = invoice_formset(request.POST if post else None)
    file_form = DeclareFileForm(request.POST if post else None, request.FILES if post else None)
    context.update(buyer=buyer, buyer_form=buyer_form, formset=formset, file_form=file_form)
    if post:
        declared = _declare(request, contract, buyer, formset, file_form, context)
        if declared is not None:
            claim, count = declared
            messages.success(
                request,
                ngettext(
                    "Sinistre %(number)s déclaré : %(count)s facture.",
                    "Sinistre %(number)s déclaré : %(count)s factures.",
                    count,
                )
                % {"number": claim.number, "count": count},
            )
            return redirect("claim_detail", claim_id=claim.pk)
    return render(request, "claims/claim_new.html", context, status=400 if post else 200)


def _declare(
    request: HttpRequest,
    contract: Contract,
    buyer: Buyer,
    formset: BaseInvoiceFormSet,
    file_form: DeclareFileForm,
    context: dict[str, Any],
) -> tuple[Claim, int] | None:
    """Declare from the file if one was given, else from the typed rows; None when refused
    (the errors are on the forms or in `context["lines"]`)."""
    user = page_user(request)
    if not file_form.is_valid():
        return None
    upload = file_form.cleaned_data.get("file")
    if upload:
        try:
            lines = _csv_verdicts(contract, upload.read())
        except DomainError as error:
            apply_domain_error(file_form, error)
            return None
        context["lines"] = lines
        if not all(line.accepted for line in lines):
            return None
        invoices = [line.invoice for line in lines if line.invoice is not None]
        try:
            claim = services.claim_declare(
                contract=contract, buyer=buyer, invoices=invoices, actor=user
            )
        except DomainError as error:
            context["lines"] = _with_error(lines, error)
            if _invoice_index(error.field) is None:
                apply_domain_error(file_form, error)
            return None
        return claim, len(invoices)
    if not formset.is_valid():
        return None
    try:
        claim = services.claim_declare(
            contract=contract, buyer=buyer, invoices=formset.invoices(), actor=user
        )
    except DomainError as error:
        if not apply_invoice_error(formset, error):
            context["declare_error"] = error.message
        return None
    return claim, len(formset.filled())


# --- the claim --------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, claim: Claim, **forms: Any) -> dict[str, Any]:
    user = page_user(request)
    data = selectors.claim_detail_data(claim)
    declare = policy.can_declare_claims(user)
    adding = declare and claim.status in ADDING_STATUSES
    documents = declare and claim.status not in selectors.CLOSED_TO_DOCUMENTS
    invoices = ClaimInvoice.objects.filter(claim=claim)
    return {
        "claim": claim,
        "data": data,
        "formset": forms.get("formset") or (invoice_formset() if adding else None),
        "upload_form": forms.get("upload_form") or (InvoiceFileForm() if adding else None),
        "lines": forms.get("lines"),
        "document_form": forms.get("document_form")
        or (DocumentForm(invoices=invoices) if documents else None),
        "add_error": forms.get("add_error"),
    }


@readers
@require_GET
def claim_detail(request: HttpRequest, claim_id: UUID) -> HttpResponse:
    claim = _claim(claim_id)
    return render(request, "claims/claim_detail.html", _detail_context(request, claim))


def _refused(request: HttpRequest, claim: Claim, **forms: Any) -> HttpResponse:
    claim.refresh_from_db()
    return render(
        request, "claims/claim_detail.html", _detail_context(request, claim, **forms), status=400
    )


@declarers
@require_POST
def claim_invoices_add(request: HttpRequest, claim_id: UUID) -> HttpResponse:
    claim = _claim(claim_id)
    formset = invoice_formset(request.POST)
    if formset.is_valid():
        try:
            added = services.claim_invoices_add(
                claim_id=claim.pk, invoices=formset.invoices(), actor=page_user(request)
            )
        except DomainError as error:
            if not apply_invoice_error(formset, error):
                return _refused(request, claim, formset=formset, add_error=error.message)
        else:
            messages.success(
                request,
                ngettext("%(count)s facture ajoutée.", "%(count)s factures ajoutées.", len(added))
                % {"count": len(added)},
            )
            return redirect("claim_detail", claim_id=claim.pk)
    return _refused(request, claim, formset=formset)


@declarers
@require_POST
def claim_invoices_upload(request: HttpRequest, claim_id: UUID) -> HttpResponse:
    claim = _claim(claim_id)
    form = InvoiceFileForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            result = services.claim_invoices_upload(
                claim_id=claim.pk,
                content=form.cleaned_data["file"].read(),
                actor=page_user(request),
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            if result.accepted:
                messages.success(
                    request,
                    ngettext(
                        "Fichier accepté : %(count)s facture ajoutée.",
                        "Fichier accepté : %(count)s factures ajoutées.",
                        len(result.added),
                    )
                    % {"count": len(result.added)},
                )
                return redirect("claim_detail", claim_id=claim.pk)
            form.add_error(
                None,
                _(
                    "Aucune facture n'est ajoutée : corrigez les lignes refusées et déposez "
                    "le fichier de nouveau."
                ),
            )
            return _refused(request, claim, upload_form=form, lines=list(result.lines))
    return _refused(request, claim, upload_form=form)


@declarers
@require_POST
def claim_document_add(request: HttpRequest, claim_id: UUID) -> HttpResponse:
    claim = _claim(claim_id)
    form = DocumentForm(
        request.POST, request.FILES, invoices=ClaimInvoice.objects.filter(claim=claim)
    )
    if form.is_valid():
        upload = form.cleaned_data["file"]
        invoice = form.cleaned_data["invoice"]
        try:
            document = services.claim_document_add(
                claim_id=claim.pk,
                name=upload.name or "piece",
                content=upload.read(),
                actor=page_user(request),
                invoice_id=invoice.pk if invoice else None,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Pièce « %(name)s » ajoutée.") % {"name": document.name})
            return redirect(f"{reverse('claim_detail', kwargs={'claim_id': claim.pk})}#documents")
    return _refused(request, claim, document_form=form)


@readers
@require_GET
def claim_document(request: HttpRequest, claim_id: UUID, document_id: UUID) -> HttpResponse:
    """A supporting document, through the claim's scope; always as an attachment, typed as it
    was recognised at upload, never sniffed by the browser."""
    claim = _claim(claim_id)
    document = get_object_or_404(ClaimDocument.objects.filter(claim=claim), pk=document_id)
    return stored_file_download(
        document.file, name=document.name, content_type=document.content_type
    )


@readers
@require_GET
def claim_invoices_template(request: HttpRequest) -> HttpResponse:
    """The CSV template of unpaid invoices, French columns (with a BOM for spreadsheets)."""
    response = HttpResponse(
        ("\ufeff" + TEMPLATE).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = _disposition(
        attachment=True, filename="modele-factures-impayees.csv"
    )
    return response


@readers
@require_GET
def claim_statement(request: HttpRequest, claim_id: UUID) -> HttpResponse:
    claim = _claim(claim_id)
    pdf = claim_statement_pdf(selectors.claim_detail_data(claim))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = _disposition(
        attachment=False, filename=f"decompte-{claim.number}.pdf"
    )
    return response

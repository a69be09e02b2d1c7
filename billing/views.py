"""Billing pages: finance ops start runs and watch them; invoice viewers list and download."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.forms import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing import selectors, services
from billing.exports import invoice_csv_response
from billing.forms import BillingRunForm, CreditNoteForm, parse_month
from billing.models import BillingRun, BillingRunTrigger, Invoice
from billing.permissions import finance_ops_only, invoice_viewers_only, is_finance_ops
from portal.errors import DomainError


def _filtered(request: HttpRequest) -> tuple[QuerySet[Invoice], str]:
    invoices = selectors.invoices_visible()
    month = request.GET.get("month", "")
    if month:
        try:
            invoices = invoices.filter(month=parse_month(month))
        except ValidationError:
            month = ""
    return invoices, month


def _runs_context() -> dict[str, object]:
    runs = list(selectors.billing_runs())
    return {"runs": runs, "runs_active": any(run.is_active for run in runs)}


@finance_ops_only
@require_GET
def billing_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "billing/home.html",
        {
            "form": BillingRunForm(),
            **_runs_context(),
            "totals": selectors.invoice_totals_by_month(selectors.invoices_visible())[:12],
        },
    )


@finance_ops_only
@require_POST
def billing_run_create(request: HttpRequest) -> HttpResponse:
    form = BillingRunForm(request.POST)
    if form.is_valid():
        try:
            run = services.billing_run_start(
                month=form.cleaned_data["month"],
                trigger=BillingRunTrigger.PAGE,
                actor=request.user,  # type: ignore[arg-type]
            )
        except DomainError as error:
            form.add_error("month", error.message)
        else:
            messages.success(
                request, _("Facturation de %(month)s lancée.") % {"month": f"{run.month:%m/%Y}"}
            )
            return redirect("billing_run_detail", run_id=run.pk)
    return render(
        request,
        "billing/home.html",
        {
            "form": form,
            **_runs_context(),
            "totals": selectors.invoice_totals_by_month(selectors.invoices_visible())[:12],
        },
        status=400,
    )


@finance_ops_only
@require_GET
def billing_runs_table(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/_runs_table.html", _runs_context())


@finance_ops_only
@require_GET
def billing_run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_object_or_404(BillingRun.objects.select_related("started_by"), pk=run_id)
    return render(
        request,
        "billing/run_detail.html",
        {"run": run, "failures": run.failures.all()[:200]},
    )


@finance_ops_only
@require_GET
def billing_run_progress(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_object_or_404(BillingRun, pk=run_id)
    return render(request, "billing/_run_progress.html", {"run": run})


@invoice_viewers_only
@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    invoices, month = _filtered(request)
    page = Paginator(invoices, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/invoice_list.html",
        {
            "page": page,
            "month": month,
            "totals": selectors.invoice_totals_by_month(selectors.invoices_visible())[:24],
            "finance_ops": is_finance_ops(request.user),
        },
    )


@invoice_viewers_only
@require_GET
def invoice_export(request: HttpRequest) -> HttpResponse:
    invoices, month = _filtered(request)
    filename = f"factures-{month or 'toutes'}.csv"
    return invoice_csv_response(list(invoices.order_by("year", "sequence")), filename=filename)


@invoice_viewers_only
@require_GET
def invoice_detail(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = get_object_or_404(selectors.invoices_visible(), pk=invoice_id)
    finance_ops = is_finance_ops(request.user)
    return render(
        request,
        "billing/invoice_detail.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.order_by("position"),
            "credit_notes": invoice.credit_notes.order_by("sequence"),
            "credit_form": CreditNoteForm() if finance_ops and not invoice.is_credit_note else None,
        },
    )


@invoice_viewers_only
@require_GET
def invoice_pdf(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.all(), pk=invoice_id)
    pdf = services.invoice_pdf_store(invoice=invoice)
    response = HttpResponse(bytes(pdf.content), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    response["ETag"] = f'"{pdf.sha256}"'
    return response


@finance_ops_only
@require_POST
def credit_note_create(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.all(), pk=invoice_id)
    form = CreditNoteForm(request.POST)
    if form.is_valid():
        try:
            note = services.credit_note_issue(
                invoice=invoice,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                actor=request.user,  # type: ignore[arg-type]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Avoir %(number)s émis.") % {"number": note.number})
            return redirect("invoice_detail", invoice_id=note.pk)
    else:
        messages.error(request, _("Avoir non émis : indiquez un motif et un montant positif."))
    return redirect("invoice_detail", invoice_id=invoice.pk)

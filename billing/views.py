"""Billing pages: finance ops start runs and watch them; invoice viewers list and download;
finance ops issue credit notes after a confirmation step."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from billing import selectors, services
from billing.exports import invoice_csv_response
from billing.forms import FULL, PARTIAL, BillingRunForm, CreditNoteForm
from billing.models import BillingRun, BillingRunTrigger, Invoice
from portal import policy
from portal.errors import DomainError, RuleViolation
from portal.forms import apply_domain_error
from portal.models import User
from portal.policy import page_requires


def _signed_in(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "page_requires lets only signed-in users through"
    return user


def _runs_context() -> dict[str, object]:
    runs = list(selectors.billing_runs())
    return {"runs": runs, "runs_active": any(run.is_active for run in runs)}


def _home_context(form: BillingRunForm) -> dict[str, object]:
    return {
        "form": form,
        **_runs_context(),
        "totals": selectors.invoice_totals_by_month(selectors.invoices_visible())[:12],
    }


@page_requires(policy.can_run_billing)
@require_GET
def billing_home(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/home.html", _home_context(BillingRunForm()))


@page_requires(policy.can_run_billing)
@require_POST
def billing_run_create(request: HttpRequest) -> HttpResponse:
    form = BillingRunForm(request.POST)
    if form.is_valid():
        try:
            run = services.billing_run_start(
                month=form.cleaned_data["month"],
                trigger=BillingRunTrigger.PAGE,
                actor=_signed_in(request),
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request, _("Facturation de %(month)s lancée.") % {"month": f"{run.month:%m/%Y}"}
            )
            return redirect("billing_run_detail", run_id=run.pk)
    return render(request, "billing/home.html", _home_context(form), status=400)


@page_requires(policy.can_run_billing)
@require_GET
def billing_runs_table(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/_runs_table.html", _runs_context())


@page_requires(policy.can_run_billing)
@require_GET
def billing_run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_object_or_404(BillingRun.objects.select_related("started_by"), pk=run_id)
    return render(
        request,
        "billing/run_detail.html",
        {"run": run, "failures": run.failures.all()[:200]},
    )


@page_requires(policy.can_run_billing)
@require_GET
def billing_run_progress(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_object_or_404(BillingRun, pk=run_id)
    return render(request, "billing/_run_progress.html", {"run": run})


def _month_filtered(request: HttpRequest, *, tell: bool) -> tuple[QuerySet[Invoice], str]:
    """The invoices of `?month=` and the month as typed back in the filter; a bad month
    lists every month (with a message when `tell`)."""
    month = request.GET.get("month", "")
    try:
        invoices, first = selectors.invoices_filtered(month=month)
    except RuleViolation as error:
        if tell:
            messages.error(request, error.message)
        invoices, first = selectors.invoices_filtered()
    return invoices, f"{first:%Y-%m}" if first else ""


@page_requires(policy.can_see_invoices)
@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    invoices, month = _month_filtered(request, tell=True)
    page = Paginator(invoices, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/invoice_list.html",
        {
            "page": page,
            "month": month,
            "totals": selectors.invoice_totals_by_month(selectors.invoices_visible())[:24],
        },
    )


@page_requires(policy.can_see_invoices)
@require_GET
def invoice_export(request: HttpRequest) -> HttpResponse:
    invoices, month = _month_filtered(request, tell=False)
    filename = f"factures-{month or 'toutes'}.csv"
    return invoice_csv_response(list(invoices.order_by("year", "sequence")), filename=filename)


def _invoice_page(
    request: HttpRequest, invoice: Invoice, credit_form: CreditNoteForm | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "billing/invoice_detail.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.order_by("position"),
            "credit_notes": invoice.credit_notes.order_by("sequence"),
            "credit_form": credit_form,
        },
        status=status,
    )


@page_requires(policy.can_see_invoices)
@require_GET
def invoice_detail(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = get_object_or_404(selectors.invoices_visible(), pk=invoice_id)
    may_credit = policy.can_issue_credit_note(request.user) and not invoice.is_credit_note
    return _invoice_page(request, invoice, CreditNoteForm() if may_credit else None)


@page_requires(policy.can_see_invoices)
@require_GET
def invoice_pdf(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = get_object_or_404(selectors.invoices_visible(), pk=invoice_id)
    pdf = services.invoice_pdf_store(invoice=invoice)
    response = HttpResponse(bytes(pdf.content), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    response["ETag"] = f'"{pdf.sha256}"'
    return response


@page_requires(policy.can_issue_credit_note)
@require_POST
def credit_note_create(request: HttpRequest, invoice_id: str) -> HttpResponse:
    """Two posts: the first shows what will be credited; only the one sent back from that
    confirmation page (`confirm=1`) issues the credit note."""
    invoice = get_object_or_404(selectors.invoices_visible(), pk=invoice_id)
    form = CreditNoteForm(request.POST)
    if not form.is_valid():
        return _invoice_page(request, invoice, form, status=400)
    full, amount, reason = (form.cleaned_data[name] for name in ("full", "amount", "reason"))
    try:
        if request.POST.get("confirm") != "1":
            credited = services.credit_note_amounts(invoice=invoice, full=full, amount=amount)
            return render(
                request,
                "billing/credit_note_confirm.html",
                {
                    "invoice": invoice,
                    "credited": credited,
                    "reason": reason,
                    # what the confirmation posts back, as the form reads it
                    "hidden": {
                        "full": FULL if full else PARTIAL,
                        "amount": "" if amount is None else str(amount),
                        "reason": reason,
                        "confirm": "1",
                    },
                },
            )
        note = services.credit_note_issue(
            invoice=invoice, full=full, amount=amount, reason=reason, actor=_signed_in(request)
        )
    except DomainError as error:
        apply_domain_error(form, error)
        return _invoice_page(request, invoice, form, status=400)
    messages.success(request, _("Avoir %(number)s émis.") % {"number": note.number})
    return redirect("invoice_detail", invoice_id=note.pk)

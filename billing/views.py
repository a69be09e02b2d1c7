"""Billing pages: finance ops start runs and watch them; invoice viewers list and download;
finance ops issue credit notes after a confirmation step."""

from __future__ import annotations

import base64
from decimal import Decimal

from django.contrib import messages
from django.core import signing
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import selectors, services, tables
from billing.exports import invoice_csv_response
from billing.forms import (
    FULL,
    PARTIAL,
    BankStatementForm,
    BillingRunForm,
    CreditNoteForm,
    PaymentForm,
)
from billing.home import RUNS_SHOWN
from billing.models import BillingRun, BillingRunTrigger, Invoice, InvoiceKind
from billing.services.payments import LineVerdict
from portal import policy
from portal.errors import DomainError, RuleViolation
from portal.forms import apply_domain_error
from portal.listing import list_page
from portal.models import User
from portal.money import eur
from portal.policy import page_requires
from portal.timeutils import business_today


def _signed_in(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "page_requires lets only signed-in users through"
    return user


def _runs_context(limit: int | None = None) -> dict[str, object]:
    runs = list(selectors.billing_runs(limit) if limit else selectors.billing_runs())
    return {"runs": runs, "runs_active": any(run.is_active for run in runs), "runs_limit": limit}


def _home_context(form: BillingRunForm) -> dict[str, object]:
    return {
        "form": form,
        **_runs_context(),
        "totals": selectors.recent_totals_by_month(selectors.invoices_visible(), months=12),
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
    # The finance home polls its five runs; the billing page all of them.
    limit = RUNS_SHOWN if request.GET.get("limit") == str(RUNS_SHOWN) else None
    return render(request, "billing/_runs_table.html", _runs_context(limit))


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
    """Search, filters (payment status, overdue, month, policyholder) kept in the URL, sort by
    each column, totals of total / paid / balance, CSV and XLSX of what is filtered."""
    page = tables.InvoiceListPage(
        request,
        queryset=selectors.with_balance(selectors.invoices_visible()),
        table_class=tables.InvoiceTable,
        filterset_class=tables.InvoiceFilterSet,
        totals=tables.INVOICE_TOTALS,
    )
    return list_page(
        request,
        template="billing/invoice_list.html",
        page=page,
        export_name="factures",
        context={
            "totals": selectors.recent_totals_by_month(selectors.invoices_visible(), months=24)
        },
    )


@page_requires(policy.can_see_invoices)
@require_GET
def invoice_export(request: HttpRequest) -> HttpResponse:
    invoices, month = _month_filtered(request, tell=False)
    filename = f"factures-{month or 'toutes'}.csv"
    return invoice_csv_response(list(invoices.order_by("year", "sequence")), filename=filename)


def _invoice_page(
    request: HttpRequest,
    invoice: Invoice,
    *,
    credit_form: CreditNoteForm | None = None,
    payment_form: PaymentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    may_credit = policy.can_issue_credit_note(request.user) and not invoice.is_credit_note
    may_pay = (
        policy.can_record_payments(request.user)
        and invoice.kind == InvoiceKind.INVOICE
        and invoice.outstanding
    )
    if may_pay and payment_form is None:
        payment_form = PaymentForm(
            initial={"received_on": business_today(), "amount": invoice.balance}
        )
    return render(
        request,
        "billing/invoice_detail.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.order_by("position"),
            "credit_notes": invoice.credit_notes.order_by("sequence"),
            "credit_form": credit_form or (CreditNoteForm() if may_credit else None),
            "payments": selectors.payments_of(invoice),
            "payment_form": payment_form if may_pay else None,
        },
        status=status,
    )


def _visible_invoice(invoice_id: str) -> Invoice:
    return get_object_or_404(selectors.with_balance(selectors.invoices_visible()), pk=invoice_id)


@page_requires(policy.can_see_invoices)
@require_GET
def invoice_detail(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _invoice_page(request, _visible_invoice(invoice_id))


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
    invoice = _visible_invoice(invoice_id)
    form = CreditNoteForm(request.POST)
    if not form.is_valid():
        return _invoice_page(request, invoice, credit_form=form, status=400)
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
        return _invoice_page(request, invoice, credit_form=form, status=400)
    messages.success(request, _("Avoir %(number)s émis.") % {"number": note.number})
    return redirect("invoice_detail", invoice_id=note.pk)


@page_requires(policy.can_record_payments)
@require_POST
def payment_create(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = _visible_invoice(invoice_id)
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            payment = services.payment_record(
                invoice=invoice,
                received_on=form.cleaned_data["received_on"],
                amount=form.cleaned_data["amount"],
                reference=form.cleaned_data["reference"],
                actor=_signed_in(request),
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Paiement de %(amount)s enregistré sur la facture %(number)s.")
                % {"amount": eur(payment.amount), "number": invoice.number},
            )
            return redirect("invoice_detail", invoice_id=invoice.pk)
    return _invoice_page(request, invoice, payment_form=form, status=400)


_STATEMENT_SALT = "billing.bank_statement"
_STATEMENT_MAX_AGE = 3600


def _statement_token(content: bytes) -> str:
    """The uploaded statement, carried from the preview to the confirmation in a signed,
    compressed form field (no file stored before it is confirmed)."""
    return signing.dumps(base64.b64encode(content).decode(), salt=_STATEMENT_SALT, compress=True)


def _statement_content(token: str) -> bytes | None:
    try:
        return base64.b64decode(
            signing.loads(token, salt=_STATEMENT_SALT, max_age=_STATEMENT_MAX_AGE)
        )
    except (signing.BadSignature, ValueError):
        return None


def _statement_page(
    request: HttpRequest,
    form: BankStatementForm,
    *,
    verdicts: list[LineVerdict] | None = None,
    token: str = "",
    done: bool = False,
    status: int = 200,
) -> HttpResponse:
    accepted = [verdict for verdict in verdicts or [] if verdict.accepted]
    return render(
        request,
        "billing/bank_statement.html",
        {
            "form": form,
            "verdicts": verdicts,
            "accepted": accepted,
            "accepted_total": sum((v.line.amount or 0 for v in accepted), Decimal("0.00")),
            "refused": [verdict for verdict in verdicts or [] if not verdict.accepted],
            "token": token,
            "done": done,
        },
        status=status,
    )


@page_requires(policy.can_record_payments)
@require_http_methods(["GET", "POST"])
def bank_statement_import(request: HttpRequest) -> HttpResponse:
    """Upload a statement: the verdict of every line is shown first; "Enregistrer les N
    paiements reconnus" records them in one transaction. An unreadable file stores nothing."""
    if request.method != "POST":
        return _statement_page(request, BankStatementForm())
    if request.POST.get("confirm") == "1":
        content = _statement_content(request.POST.get("statement", ""))
        if content is None:
            messages.error(request, _("Le relevé a expiré : déposez-le à nouveau."))
            return redirect("bank_statement_import")
        try:
            verdicts = services.bank_statement_import(content=content, actor=_signed_in(request))
        except DomainError as error:
            form = BankStatementForm()
            apply_domain_error(form, error)
            return _statement_page(request, form, status=400)
        recorded = sum(1 for verdict in verdicts if verdict.accepted)
        messages.success(
            request,
            ngettext("%(count)s paiement enregistré.", "%(count)s paiements enregistrés.", recorded)
            % {"count": recorded},
        )
        return _statement_page(request, BankStatementForm(), verdicts=verdicts, done=True)
    form = BankStatementForm(request.POST, request.FILES)
    if not form.is_valid():
        return _statement_page(request, form, status=400)
    content = form.cleaned_data["file"].read()
    try:
        verdicts = services.bank_statement_verdicts(content=content)
    except DomainError as error:
        apply_domain_error(form, error)
        return _statement_page(request, form, status=400)
    return _statement_page(
        request, BankStatementForm(), verdicts=verdicts, token=_statement_token(content)
    )

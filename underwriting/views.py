"""Wholesaler pages (also open to its brokers, and read-only to the insurer's staff).

Tenant objects come only through the scoped managers; a contract outside the caller's scope is a
404 like a missing one. Wholesaler actions are for credit managers, org admins and brokers.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from monitoring import charts
from monitoring import selectors as monitoring_selectors
from portal import policy
from portal.errors import DomainError
from portal.forms import apply_domain_error, form_errors_as_messages, typed_input_errors
from portal.http import page_user
from portal.listing import ListPage, list_page
from portal.models import User
from portal.timeutils import business_today
from underwriting import selectors, services, tables
from underwriting.forms import (
    BuyerCreateForm,
    BuyerSearchForm,
    CoverageForm,
    PrimaryReportForm,
    RequestForm,
)
from underwriting.identifiers import identifier_problem
from underwriting.models import Buyer, Contract, GuaranteeRequest
from underwriting.rules import ZERO


def _contract(contract_id: UUID | str) -> Contract:
    return get_object_or_404(Contract.objects.select_related("policyholder"), pk=contract_id)


def _acting(request: HttpRequest) -> User:
    user = page_user(request)
    if not policy.can_act_for_policyholder(user):
        raise Http404
    return user


@login_required
def buyer_search(request: HttpRequest, contract_id: str) -> HttpResponse:
    contract = _contract(contract_id)
    user = _acting(request)
    search = BuyerSearchForm(request.GET or None)
    create = BuyerCreateForm(request.POST or None)
    results: list[Buyer] = []
    if request.method == "POST" and create.is_valid():
        try:
            buyer = services.buyer_find_or_create(
                identifier=create.cleaned_data["identifier"],
                name=create.cleaned_data["name"],
                actor=user,
            )
        except DomainError as error:
            apply_domain_error(create, error)
        else:
            return redirect("buyer_page", contract_id=contract.pk, buyer_id=buyer.pk)
    elif search.is_valid():
        results = selectors.buyer_search(query=search.cleaned_data["q"])
        problem = None if results else identifier_problem(search.cleaned_data["q"])
        if problem:
            # Say why nothing matches: the identifier itself is wrong, not only unknown.
            search.add_error("q", problem)
        elif not results:
            create = BuyerCreateForm(initial={"identifier": search.cleaned_data["q"]})
    return render(
        request,
        "underwriting/buyer_search.html",
        {"contract": contract, "search": search, "create": create, "results": results},
    )


@login_required
def buyer_page(request: HttpRequest, contract_id: str, buyer_id: str) -> HttpResponse:
    contract = _contract(contract_id)
    buyer = get_object_or_404(Buyer, pk=buyer_id)
    coverage = selectors.coverage_check(contract=contract, buyer=buyer)
    grades = list(monitoring_selectors.grade_history(buyer=buyer))
    notices = list(monitoring_selectors.proceedings_history(buyer=buyer))
    alerts = monitoring_selectors.alert_feed(buyer=buyer, policyholder_id=contract.policyholder_id)
    return render(
        request,
        "underwriting/buyer_page.html",
        {
            "contract": contract,
            "buyer": buyer,
            "coverage": coverage,
            "grades": grades,
            "grade_chart": charts.buyer_grade_chart(
                buyer.name, grades, notices, today=business_today()
            ),
            "notices": notices,
            "alert_lines": monitoring_selectors.alert_lines(alerts[:5]),
            "insights": list(
                monitoring_selectors.insights_visible(
                    buyer=buyer, policyholder_id=contract.policyholder_id
                )
            ),
            "history": selectors.guarantee_history(contract=contract, buyer=buyer),
            "requests": selectors.requests_visible().filter(contract=contract, buyer=buyer),
            "coverage_form": CoverageForm(),
            "primary_form": PrimaryReportForm(initial={"effective_on": business_today()}),
        },
    )


@login_required
@require_GET
def coverage(request: HttpRequest, contract_id: str, buyer_id: str) -> HttpResponse:
    contract = _contract(contract_id)
    buyer = get_object_or_404(Buyer, pk=buyer_id)
    form = CoverageForm(request.GET)
    result = None
    if form.is_valid():
        result = selectors.coverage_check(
            contract=contract,
            buyer=buyer,
            order_amount=form.cleaned_data["order_amount"],
            outstanding=form.cleaned_data["outstanding"] or ZERO,
        )
    return render(request, "underwriting/_coverage.html", {"form": form, "result": result})


@login_required
@require_POST
def primary_report(request: HttpRequest, contract_id: str, buyer_id: str) -> HttpResponse:
    contract = _contract(contract_id)
    user = _acting(request)
    buyer = get_object_or_404(Buyer, pk=buyer_id)
    form = PrimaryReportForm(request.POST)
    if form.is_valid():
        try:
            services.guarantee_primary_report(
                contract=contract,
                buyer=buyer,
                primary_amount=form.cleaned_data["primary_amount"],
                effective_on=form.cleaned_data["effective_on"],
                note=form.cleaned_data["note"],
                actor=user,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Nouvelle limite primaire enregistrée."))
            return redirect("buyer_page", contract_id=contract.pk, buyer_id=buyer.pk)
    form_errors_as_messages(request, form)
    return redirect("buyer_page", contract_id=contract.pk, buyer_id=buyer.pk)


@login_required
def request_new(request: HttpRequest, contract_id: str, buyer_id: str) -> HttpResponse:
    contract = _contract(contract_id)
    user = _acting(request)
    buyer = get_object_or_404(Buyer, pk=buyer_id)
    form = RequestForm(request.POST or None, initial={"reason": "new_order"})
    if request.method == "POST" and form.is_valid():
        try:
            created, _created = services.guarantee_request_submit(
                contract=contract,
                buyer=buyer,
                data=form.request_input(),
                reason=form.cleaned_data["reason"],
                seasonal_until=form.cleaned_data["seasonal_until"],
                comment=form.cleaned_data["comment"],
                submitted_by=user,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Demande envoyée : %(status)s.") % {"status": created.get_status_display()},
            )
            return redirect("request_detail", request_id=created.pk)
    current = selectors.guarantee_in_force(contract=contract, buyer=buyer)
    return render(
        request,
        "underwriting/request_form.html",
        {"contract": contract, "buyer": buyer, "form": form, "current": current},
    )


@login_required
@require_GET
def request_limits(request: HttpRequest, contract_id: str, buyer_id: str) -> HttpResponse:
    """The htmx answer to every keystroke of the request form: the largest top-up and why."""
    contract = _contract(contract_id)
    user = _acting(request)
    buyer = get_object_or_404(Buyer, pk=buyer_id)
    form = RequestForm(request.GET)
    form.is_valid()
    context: dict[str, object] = {"form": form, "input_errors": typed_input_errors(form)}
    if "exposure" in form.cleaned_data and (
        form.cleaned_data.get("primary_amount") is not None
        or form.cleaned_data.get("primary_percent") is not None
    ):
        try:
            answer = services.request_limits(
                contract=contract, buyer=buyer, data=form.request_input(), actor=user
            )
            context.update(limits=answer.limits, primary=answer.primary, breach=answer.breach)
        except DomainError as error:
            context["error"] = error.message
    return render(request, "underwriting/_limits.html", context)


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    page = ListPage(
        request,
        queryset=tables.requests_listed(selectors.requests_visible()),
        table_class=tables.RequestTable,
        filterset_class=tables.RequestFilterSet,
        totals=tables.REQUEST_TOTALS,
    )
    return list_page(
        request, template="underwriting/request_list.html", page=page, export_name="demandes"
    )


@login_required
def request_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    guarantee_request = get_object_or_404(selectors.requests_visible(), pk=request_id)
    return render(
        request,
        "underwriting/request_detail.html",
        {"req": guarantee_request},
    )


@login_required
@require_POST
def request_withdraw(request: HttpRequest, request_id: str) -> HttpResponse:
    guarantee_request = get_object_or_404(GuaranteeRequest.objects.all(), pk=request_id)
    user = _acting(request)
    try:
        services.guarantee_request_withdraw(
            request_id=guarantee_request.pk, actor=user, reason=request.POST.get("reason", "")
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Demande retirée."))
    return redirect("request_detail", request_id=guarantee_request.pk)


@login_required
def guarantee_list(request: HttpRequest) -> HttpResponse:
    page = ListPage(
        request,
        queryset=tables.guarantees_listed(selectors.guarantees_in_force_listed()),
        table_class=tables.GuaranteeTable,
        filterset_class=tables.GuaranteeFilterSet,
        totals=tables.GUARANTEE_TOTALS,
    )
    return list_page(
        request,
        template="underwriting/guarantee_list.html",
        page=page,
        export_name="garanties",
        context={"today": business_today()},
    )

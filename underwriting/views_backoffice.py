"""Arbiter pages: the queue, the decision page, countersignature, the buyer risk file and
guarantee reductions. Insurer arbiters and senior arbiters (admins may look)."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_scopes import scopes_disabled

from monitoring import charts
from monitoring import selectors as monitoring_selectors
from monitoring.views_insights import InsightForm
from portal import policy
from portal import selectors as portal_selectors
from portal.errors import DomainError
from portal.forms import apply_domain_error, form_errors_as_messages
from portal.http import is_htmx, page_user
from portal.models import User
from portal.money import ZERO
from portal.timeutils import business_today
from underwriting import selectors, services
from underwriting.forms import (
    QUEUE_ARBITER_ALL,
    QUEUE_ARBITER_ME,
    QUEUE_ARBITER_NONE,
    AssignForm,
    ContractEndForm,
    CountersignForm,
    DecisionForm,
    GuaranteeChangeForm,
    QueueFilterForm,
)
from underwriting.models import (
    Buyer,
    Contract,
    DecisionOutcome,
    Guarantee,
    GuaranteeRequest,
    PendingDecision,
    RequestStatus,
)

insurer_readers = policy.page_requires(policy.can_see_queue)
insurer_deciders = policy.page_requires(policy.can_decide)
QUEUE_PAGE_SIZE = 50


def _arbiters(user: User) -> list[User]:
    return list(portal_selectors.arbiters(organisation_id=user.organisation_id))


def _queue_default(user: User) -> dict[str, str]:
    """The queue's view when no filter is given: a countersigner opens on what waits for their
    countersignature (a senior decides without one, so every proposal waiting is another's);
    an arbiter on the requests assigned to them."""
    if policy.can_countersign(user):
        return {"arbiter": QUEUE_ARBITER_ALL, "status": RequestStatus.AWAITING_COUNTERSIGNATURE}
    return {"arbiter": QUEUE_ARBITER_ME}


@insurer_readers
def queue(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    arbiters = _arbiters(user)
    form = QueueFilterForm(
        request.GET or _queue_default(user),
        arbiters=arbiters,
        policyholders=list(portal_selectors.visible_policyholders().order_by("name")),
    )
    page = None
    if form.is_valid():
        data = form.cleaned_data
        choice = data["arbiter"] or QUEUE_ARBITER_ME
        by_id = {str(arbiter.pk): arbiter for arbiter in arbiters}
        arbiter = user if choice == QUEUE_ARBITER_ME else by_id.get(choice)
        queryset = selectors.queue(
            arbiter=arbiter if choice != QUEUE_ARBITER_ALL else None,
            unassigned=choice == QUEUE_ARBITER_NONE,
            policyholder_id=data["policyholder"] or None,
            grade_min=data["grade_min"],
            grade_max=data["grade_max"],
            amount_min=data["amount_min"],
            amount_max=data["amount_max"],
            reason=data["reason"],
            status=data["status"],
        )
        page = Paginator(queryset, QUEUE_PAGE_SIZE).get_page(data["page"] or 1)
    template = "underwriting/_queue_table.html" if is_htmx(request) else "underwriting/queue.html"
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        template,
        {"form": form, "page": page, "now": timezone.now(), "query": query.urlencode()},
    )


@insurer_readers
def arbiter_request(request: HttpRequest, request_id: str) -> HttpResponse:
    user = page_user(request)
    guarantee_request = get_object_or_404(selectors.requests_visible(), pk=request_id)
    held = guarantee_request.held_since is not None
    form = DecisionForm(
        request.POST or None,
        initial={
            "outcome": DecisionOutcome.REFUSED if held else DecisionOutcome.APPROVED,
            "amount": ZERO if held else guarantee_request.requested_top_up,
            "valid_from": business_today(),
            "valid_until": guarantee_request.seasonal_until,
        },
    )
    if held:
        # Collective proceedings: the request may only be refused until it is resumed.
        cast(forms.ChoiceField, form.fields["outcome"]).choices = [
            (DecisionOutcome.REFUSED.value, DecisionOutcome.REFUSED.label)
        ]
    if request.method == "POST":
        if not policy.can_decide(user):
            return redirect("arbiter_request", request_id=guarantee_request.pk)
        if form.is_valid():
            try:
                result = services.guarantee_request_decide(
                    request_id=guarantee_request.pk, actor=user, **form.cleaned_data
                )
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                if result.pending is not None:
                    messages.warning(
                        request,
                        _("Au-delà de votre pouvoir : la décision attend une contre-signature."),
                    )
                else:
                    messages.success(request, _("Décision enregistrée."))
                return redirect("arbiter_request", request_id=guarantee_request.pk)
    contract, buyer = guarantee_request.contract, guarantee_request.buyer
    limits = selectors.limits_for(
        contract=contract,
        buyer=buyer,
        exposure=guarantee_request.exposure,
        primary=guarantee_request.primary_amount,
        credit_term_days=guarantee_request.credit_term_days,
    )
    pending = selectors.pending_decision(request=guarantee_request)
    return render(
        request,
        "underwriting/arbiter_request.html",
        {
            "req": guarantee_request,
            "form": form,
            "limits": limits,
            "current": selectors.guarantee_in_force(contract=contract, buyer=buyer),
            "pending": pending,
            "proposals": PendingDecision.objects.filter(request=guarantee_request).select_related(
                "proposed_by", "resolved_by"
            ),
            "countersign_form": CountersignForm(),
            "assign_form": AssignForm(
                initial={"arbiter": guarantee_request.assigned_to_id}, arbiters=_arbiter_qs(user)
            ),
            "can_decide": policy.can_decide(user),
            "can_countersign": pending is not None
            and policy.can_countersign(user, proposed_by_id=pending.proposed_by_id),
            "held": held,
            "authority": _authority(user, guarantee_request),
        },
    )


def _authority(user: User, guarantee_request: GuaranteeRequest) -> dict[str, object]:
    """What the arbiter may decide alone, shown before they decide: their authority amount,
    and whether approving the requested top-up would wait for a countersignature."""
    unlimited = policy.decides_without_countersignature(user)
    amount = user.authority_amount
    return {
        "unlimited": unlimited,
        "amount": amount,
        "exceeded": not unlimited
        and (amount is None or guarantee_request.requested_top_up > amount),
    }


@policy.page_requires(policy.can_resume_requests)
@require_POST
def request_resume(request: HttpRequest, request_id: str) -> HttpResponse:
    """Resume a request held for collective proceedings: it can be decided again."""
    guarantee_request = get_object_or_404(GuaranteeRequest.objects.all(), pk=request_id)
    try:
        services.guarantee_request_resume(
            request_id=guarantee_request.pk,
            actor=page_user(request),
            note=request.POST.get("note", "").strip()[:1000],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Demande reprise : elle peut de nouveau être décidée."))
    return redirect("arbiter_request", request_id=guarantee_request.pk)


def _arbiter_qs(user: User) -> QuerySet[User]:
    return portal_selectors.arbiters(organisation_id=user.organisation_id)


@insurer_deciders
@require_POST
def request_assign(request: HttpRequest, request_id: str) -> HttpResponse:
    user = page_user(request)
    guarantee_request = get_object_or_404(GuaranteeRequest.objects.all(), pk=request_id)
    form = AssignForm(request.POST, arbiters=_arbiter_qs(user))
    if form.is_valid():
        try:
            services.guarantee_request_assign(
                request_id=guarantee_request.pk, arbiter=form.cleaned_data["arbiter"], actor=user
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Demande attribuée."))
    else:
        messages.error(request, _("Arbitre inconnu."))
    next_url = request.POST.get("next", "")
    if next_url.startswith("/backoffice/") and "//" not in next_url:
        return redirect(next_url)
    return redirect("arbiter_request", request_id=guarantee_request.pk)


@policy.page_requires(policy.can_countersign)
@require_POST
def request_countersign(request: HttpRequest, request_id: str) -> HttpResponse:
    user = page_user(request)
    guarantee_request = get_object_or_404(GuaranteeRequest.objects.all(), pk=request_id)
    form = CountersignForm(request.POST)
    if form.is_valid():
        try:
            services.pending_decision_countersign(
                request_id=guarantee_request.pk,
                actor=user,
                approve=form.cleaned_data["approve"],
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Contre-signature enregistrée."))
    else:
        messages.error(request, _("Choisissez de contre-signer ou de rejeter."))
    return redirect("arbiter_request", request_id=guarantee_request.pk)


@insurer_readers
def buyer_risk_file(request: HttpRequest, buyer_id: str) -> HttpResponse:
    buyer = get_object_or_404(Buyer, pk=buyer_id)
    # Accumulation is the insurer's view across every policyholder: staff only (checked above).
    with scopes_disabled():
        accumulation = selectors.buyer_accumulation(buyer=buyer)
        exposures = list(
            selectors.guarantees_in_force()
            .filter(buyer=buyer)
            .select_related("policyholder", "contract")
            .order_by("-amount")
        )
    grades = list(monitoring_selectors.grade_history(buyer=buyer))
    notices = list(monitoring_selectors.proceedings_history(buyer=buyer))
    return render(
        request,
        "underwriting/buyer_risk_file.html",
        {
            "buyer": buyer,
            "accumulation": accumulation,
            "exposures": exposures,
            "grades": grades,
            "grade_chart": charts.buyer_grade_chart(
                buyer.name, grades, notices, today=business_today()
            ),
            "notices": notices,
            "requests": selectors.requests_visible().filter(buyer=buyer)[:50],
            "insights": list(monitoring_selectors.insight_history(buyer=buyer)),
            "insight_form": InsightForm(),
        },
    )


@insurer_readers
def guarantee_change(request: HttpRequest, guarantee_id: str) -> HttpResponse:
    user = page_user(request)
    guarantee = get_object_or_404(
        Guarantee.objects.select_related("buyer", "contract", "policyholder"), pk=guarantee_id
    )
    form = GuaranteeChangeForm(
        request.POST or None, initial={"effective_on": business_today(), "action": "reduce"}
    )
    if request.method == "POST" and policy.can_change_guarantees(user) and form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == "reduce":
                services.guarantee_reduce(
                    guarantee=guarantee,
                    amount=data["amount"],
                    effective_on=data["effective_on"],
                    actor=user,
                    reason=data["reason"],
                )
            else:
                services.guarantee_cancel(
                    guarantee=guarantee,
                    effective_on=data["effective_on"],
                    actor=user,
                    reason=data["reason"],
                )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Garantie modifiée."))
            return redirect("buyer_risk_file", buyer_id=guarantee.buyer_id)
    return render(
        request,
        "underwriting/guarantee_change.html",
        {
            "guarantee": guarantee,
            "form": form,
            "history": selectors.guarantee_history(
                contract=guarantee.contract, buyer=guarantee.buyer
            ),
            "can_decide": policy.can_change_guarantees(user),
        },
    )


@policy.page_requires(policy.can_manage_contracts)
@require_POST
def contract_end(request: HttpRequest, contract_id: str) -> HttpResponse:
    """Terminate or suspend a contract (insurer admin): every top-up on it ends from the date."""
    user = page_user(request)
    contract = get_object_or_404(Contract.objects.select_related("policyholder"), pk=contract_id)
    form = ContractEndForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        action = (
            services.contract_terminate
            if data["action"] == "terminate"
            else services.contract_suspend
        )
        try:
            ended = action(
                contract=contract,
                effective_on=data["effective_on"],
                actor=user,
                reason=data["reason"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Contrat %(number)s : %(count)s top-up(s) prennent fin le %(date)s.")
                % {
                    "number": contract.number,
                    "count": ended,
                    "date": data["effective_on"].strftime("%d/%m/%Y"),
                },
            )
    else:
        form_errors_as_messages(request, form)
    return redirect("contract_detail", contract_id=contract.pk)

"""The claims handler's side: the queue, the claim file and its actions, the export.

Every insurer role reads claims (DESIGN §3); only the claims handler (and the insurer admin)
acts on them, and a senior arbiter (or the admin) countersigns an indemnity above the handler's
authority. Each action is shown to, and accepted from, only who may use it; anyone else gets
404, like a page they may not open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from claims import selectors, services
from claims.events import ClaimEvent
from claims.exports import claim_csv_response
from claims.forms_backoffice import (
    HANDLER_MINE,
    HANDLER_NONE,
    STATUS_TO_COUNTERSIGN,
    AssignForm,
    BuyerPaymentForm,
    ClaimQueueFilterForm,
    CountersignForm,
    DeclineForm,
    EmptyForm,
    NoteForm,
    PayForm,
    PrimaryDeclineForm,
    PrimarySettleForm,
    RecoveryForm,
)
from claims.models import OPEN_CLAIM_STATUSES, Claim, ClaimStatus
from claims.services.handling import claim_needs_countersignature
from portal import policy
from portal.errors import DomainError
from portal.forms import apply_domain_error, form_errors_as_messages
from portal.http import is_htmx, page_user
from portal.models import User
from portal.timeutils import business_today
from underwriting.rules import eur

insurer_readers = policy.page_requires(policy.can_read_claims_backoffice)
QUEUE_PAGE_SIZE = 50
S = ClaimStatus


# --- the queue and the export -----------------------------------------------------------------


def _filtered(request: HttpRequest) -> tuple[ClaimQueueFilterForm, QuerySet[Claim] | None]:
    """The queue's filter form and, when it is valid, the claims it selects."""
    user = page_user(request)
    handlers = list(selectors.claim_handlers(organisation_id=user.organisation_id))
    form = ClaimQueueFilterForm(
        request.GET,
        handlers=handlers,
        countersigner=policy.can_countersign_indemnity(user),
    )
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    by_id = {str(handler.pk): handler for handler in handlers}
    choice = data["handler"]
    status = data["status"]
    claims = selectors.backoffice_claims(
        status="" if status == STATUS_TO_COUNTERSIGN else status,
        handler=user if choice == HANDLER_MINE else by_id.get(choice),
        unassigned=choice == HANDLER_NONE,
        search=data["q"],
        to_countersign_by=user if status == STATUS_TO_COUNTERSIGN else None,
    )
    return form, claims


@insurer_readers
@require_GET
def claim_queue(request: HttpRequest) -> HttpResponse:
    form, claims = _filtered(request)
    page: Page[Claim] | None = None
    rows: list[selectors.QueueRow] = []
    totals = None
    if claims is not None:
        page = Paginator(claims, QUEUE_PAGE_SIZE).get_page(form.cleaned_data["page"] or 1)
        rows = selectors.backoffice_queue_rows(list(page.object_list))
        totals = selectors.claims_totals(claims)
    query = request.GET.copy()
    query.pop("page", None)
    template = "claims/_backoffice_queue_table.html" if is_htmx(request) else None
    return render(
        request,
        template or "claims/backoffice_queue.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "totals": totals,
            "today": business_today(),
            "query": query.urlencode(),
        },
    )


@insurer_readers
@require_GET
def claim_export(request: HttpRequest) -> HttpResponse:
    """Exactly the claims the queue's filters select (every page); bad filters export none."""
    form, claims = _filtered(request)
    rows = list(claims) if claims is not None else []
    filename = f"sinistres-{business_today():%Y-%m-%d}.csv"
    return claim_csv_response(rows, filename=filename)


# --- the actions on a claim -------------------------------------------------------------------

Outcome = tuple[str, str]  # message level ("success", "warning"), message


@dataclass(frozen=True)
class Action:
    """One thing done to a claim: its form, the statuses it applies in, who may use it and
    the service it calls."""

    name: str
    title: Any
    form: Callable[..., forms.Form]
    statuses: tuple[str, ...]
    run: Callable[[Claim, User, dict[str, Any]], Outcome]
    allowed: Callable[[User], bool] = policy.can_handle_claims
    initial: Callable[[Claim], dict[str, Any]] = lambda claim: {}


def _done(message: str) -> Outcome:
    return "success", message


def _assign(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    handler = data["handler"]
    services.claim_assign(claim_id=claim.pk, handler=handler, actor=user)
    if handler is None:
        return _done(_("Le sinistre n'est plus attribué."))
    return _done(_("Sinistre attribué à %(name)s.") % {"name": handler})


def _recovery_start(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_recovery_start(claim_id=claim.pk, actor=user, note=data["note"])
    return _done(_("Recouvrement engagé."))


def _buyer_payment(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_buyer_payment_record(claim_id=claim.pk, actor=user, **data)
    return _done(_("Paiement de l'acheteur enregistré."))


def _recovered(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_recovered(claim_id=claim.pk, actor=user, note=data["note"])
    return _done(_("Sinistre recouvré : l'acheteur a payé."))


def _primary_settle(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_primary_settle(claim_id=claim.pk, actor=user, **data)
    return _done(_("Règlement du primaire enregistré."))


def _primary_decline(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_primary_decline(claim_id=claim.pk, actor=user, **data)
    return _done(_("Refus du primaire enregistré : le sinistre est refusé."))


def _compute(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    computed = services.claim_indemnity_compute(claim_id=claim.pk, actor=user)
    if computed.status == S.DECLINED:
        return "warning", _("Le top-up ne couvre aucune part de la perte : sinistre refusé.")
    return _done(_("Indemnité calculée."))


def _approve(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    approved = services.claim_indemnity_approve(claim_id=claim.pk, actor=user)
    if approved.status == S.AWAITING_COUNTERSIGNATURE:
        return "warning", _(
            "Au-delà de votre pouvoir : l'indemnité attend une contre-signature senior."
        )
    return _done(_("Indemnité approuvée."))


def _countersign(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_indemnity_countersign(claim_id=claim.pk, actor=user, **data)
    if data["approve"]:
        return _done(_("Indemnité contre-signée : elle est approuvée."))
    return _done(_("Contre-signature rejetée : l'indemnité revient au gestionnaire."))


def _pay(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_indemnity_pay(claim_id=claim.pk, actor=user, **data)
    return _done(_("Paiement de l'indemnité enregistré."))


def _recovery(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    movement = services.claim_recovery_record(claim_id=claim.pk, actor=user, **data)
    return _done(
        _("Recours enregistré : %(amount)s de plus à reverser à l'assureur.")
        % {"amount": eur(movement.due_back)}
    )


def _close(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_close(claim_id=claim.pk, actor=user, note=data["note"])
    return _done(_("Sinistre clos."))


def _decline(claim: Claim, user: User, data: dict[str, Any]) -> Outcome:
    services.claim_decline(claim_id=claim.pk, actor=user, reason=data["reason"])
    return _done(_("Sinistre refusé."))


def _today(field: str) -> Callable[[Claim], dict[str, Any]]:
    return lambda claim: {field: business_today()}


BEFORE_SETTLEMENT = (S.DECLARED, S.IN_RECOVERY)
ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "assign",
            gettext_lazy("Attribuer"),
            AssignForm,
            OPEN_CLAIM_STATUSES,
            _assign,
            initial=lambda claim: {"handler": claim.handler_id},
        ),
        Action(
            "recovery_start",
            gettext_lazy("Engager le recouvrement"),
            NoteForm,
            (S.DECLARED,),
            _recovery_start,
        ),
        Action(
            "buyer_payment",
            gettext_lazy("Paiement de l'acheteur"),
            BuyerPaymentForm,
            BEFORE_SETTLEMENT,
            _buyer_payment,
            initial=_today("received_on"),
        ),
        Action(
            "recovered",
            gettext_lazy("L'acheteur a payé"),
            NoteForm,
            BEFORE_SETTLEMENT,
            _recovered,
        ),
        Action(
            "primary_settle",
            gettext_lazy("Règlement du primaire"),
            PrimarySettleForm,
            BEFORE_SETTLEMENT,
            _primary_settle,
            initial=_today("settled_on"),
        ),
        Action(
            "primary_decline",
            gettext_lazy("Refus du primaire"),
            PrimaryDeclineForm,
            BEFORE_SETTLEMENT,
            _primary_decline,
            initial=_today("settled_on"),
        ),
        Action(
            "compute",
            gettext_lazy("Calculer l'indemnité"),
            EmptyForm,
            (S.PRIMARY_SETTLED, S.INDEMNITY_COMPUTED),
            _compute,
        ),
        Action(
            "approve",
            gettext_lazy("Approuver l'indemnité"),
            EmptyForm,
            (S.INDEMNITY_COMPUTED,),
            _approve,
        ),
        Action(
            "countersign",
            gettext_lazy("Contre-signer l'indemnité"),
            CountersignForm,
            (S.AWAITING_COUNTERSIGNATURE,),
            _countersign,
            allowed=policy.can_countersign_indemnity,
        ),
        Action(
            "pay",
            gettext_lazy("Paiement de l'indemnité"),
            PayForm,
            (S.APPROVED,),
            _pay,
            initial=_today("paid_on"),
        ),
        Action(
            "recovery",
            gettext_lazy("Recours après paiement"),
            RecoveryForm,
            (S.PAID, S.CLOSED),
            _recovery,
            initial=_today("received_on"),
        ),
        Action("close", gettext_lazy("Clore le sinistre"), NoteForm, (S.RECOVERED, S.PAID), _close),
        Action(
            "decline",
            gettext_lazy("Refuser le sinistre"),
            DeclineForm,
            (*BEFORE_SETTLEMENT, S.PRIMARY_SETTLED, S.INDEMNITY_COMPUTED),
            _decline,
        ),
    )
}


def _form(action: Action, user: User, claim: Claim, data: Any = None) -> forms.Form:
    kwargs: dict[str, Any] = {"prefix": action.name}
    if action.form is AssignForm:
        kwargs["handlers"] = selectors.claim_handlers(organisation_id=user.organisation_id)
    if data is None:
        return action.form(initial=action.initial(claim), **kwargs)
    return action.form(data, **kwargs)


def _usable(action: Action, user: User, claim: Claim) -> bool:
    """Shown to `user` now: allowed to them, in this status, and never a countersignature of
    their own proposal."""
    if not action.allowed(user) or claim.status not in action.statuses:
        return False
    if action.name == "countersign":
        return policy.can_countersign_indemnity(user, proposed_by_id=claim.approved_by_id)
    return True


# --- the claim file ---------------------------------------------------------------------------


def _claim_or_404(claim_id: str) -> Claim:
    try:
        return selectors.backoffice_claim(claim_id)
    except Claim.DoesNotExist:
        raise Http404 from None


def _claim_file(
    request: HttpRequest,
    claim: Claim,
    *,
    bound: forms.Form | None = None,
    bound_action: str = "",
    status: int = 200,
) -> HttpResponse:
    user = page_user(request)
    action_forms = {
        name: bound if name == bound_action and bound is not None else _form(action, user, claim)
        for name, action in ACTIONS.items()
        if _usable(action, user, claim)
    }
    if bound is not None and bound_action not in action_forms:
        # The claim moved on (another tab, a colleague): the form is gone, say why.
        form_errors_as_messages(request, bound)
    detail = selectors.claim_detail_data(claim)
    waiting = detail.waiting
    timeline = [
        (event, _event_label(event.action)) for event in selectors.claim_internal_timeline(claim)
    ]
    return render(
        request,
        "claims/backoffice_claim.html",
        {
            "claim": claim,
            "contract": claim.contract,
            "detail": detail,
            "waiting": waiting,
            "waiting_over": waiting is None or waiting.ends_on <= business_today(),
            "computation": selectors.claim_backoffice_computation(claim),
            "timeline": timeline,
            "actions": [(name, ACTIONS[name].title, form) for name, form in action_forms.items()],
            "needs_countersignature": claim.indemnity is not None
            and claim_needs_countersignature(user, claim.indemnity),
        },
        status=status,
    )


def _event_label(action: str) -> str:
    try:
        return str(ClaimEvent(action).label)
    except ValueError:
        return action


@insurer_readers
@require_GET
def claim_handle(request: HttpRequest, claim_id: str) -> HttpResponse:
    return _claim_file(request, _claim_or_404(claim_id))


@insurer_readers
@require_POST
def claim_action(request: HttpRequest, claim_id: str, action: str) -> HttpResponse:
    user = page_user(request)
    claim = _claim_or_404(claim_id)
    spec = ACTIONS.get(action)
    if spec is None or not spec.allowed(user):
        raise Http404
    form = _form(spec, user, claim, request.POST)
    if form.is_valid():
        try:
            level, message = spec.run(claim, user, form.cleaned_data)
        except DomainError as error:
            apply_domain_error(form, error)
            return _claim_file(
                request,
                _claim_or_404(claim_id),
                bound=form,
                bound_action=action,
                status=error.status_code,
            )
        getattr(messages, level)(request, message)
        return redirect("claim_handle", claim_id=claim.pk)
    return _claim_file(request, claim, bound=form, bound_action=action, status=400)

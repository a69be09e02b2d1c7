"""The arbiter's inbox, joining a thread, a client's dedicated arbiter and stand-in."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from conversations import selectors, services
from conversations.forms import ArbiterAssignForm, SearchForm, StandInForm
from portal import policy
from portal.errors import DomainError
from portal.forms import apply_domain_error
from portal.http import page_user
from portal.models import Organisation, OrganisationKind, User
from portal.policy import page_requires


@page_requires(policy.can_see_inbox)
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """The threads of the clients the user is in charge of (and those it joined), oldest
    unanswered first; with a search, other clients' threads it may join."""
    user = page_user(request)
    form = SearchForm(request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    return render(
        request,
        "conversations/inbox.html",
        {
            "form": form,
            "query": query,
            "rows": selectors.inbox(user, search=query),
            "joinable": list(selectors.joinable_threads(user, query)),
        },
    )


@page_requires(policy.can_join_threads)
@require_POST
def thread_join(request: HttpRequest, thread_id: UUID) -> HttpResponse:
    user = page_user(request)
    try:
        thread = services.thread_join(thread_id=thread_id, actor=user)
    except DomainError:
        raise Http404 from None
    messages.success(request, _("Vous participez à « %(subject)s ».") % {"subject": thread.subject})
    return redirect("thread_detail", thread_id=thread.pk)


def _arbiters() -> Any:
    return User.objects.filter(
        is_active=True,
        role__in=policy.ASSIGNABLE_ARBITERS,
        organisation__kind=OrganisationKind.INSURER,
    ).order_by("username")


@page_requires(policy.can_assign_arbiters)
def client_arbiter(request: HttpRequest, policyholder_id: UUID) -> HttpResponse:
    """The client's dedicated arbiter and its stand-in now; reassign, set or end a stand-in;
    the history."""
    user = page_user(request)
    client = get_object_or_404(
        Organisation.objects.filter(kind=OrganisationKind.POLICYHOLDER).select_related(
            "dedicated_arbiter"
        ),
        pk=policyholder_id,
    )
    action = request.POST.get("action", "") if request.method == "POST" else ""
    assign_form = ArbiterAssignForm(
        request.POST if action == "assign" else None, arbiters=_arbiters(), prefix="assign"
    )
    stand_in_form = StandInForm(
        request.POST if action == "stand_in" else None, arbiters=_arbiters(), prefix="stand_in"
    )
    if request.method == "POST":
        done = _act(request, user, client, action, assign_form, stand_in_form)
        if done:
            return redirect("client_arbiter", policyholder_id=client.pk)
    return render(
        request,
        "conversations/client_arbiter.html",
        {
            "client": client,
            "stand_in": selectors.stand_in_now(client),
            "assign_form": assign_form,
            "stand_in_form": stand_in_form,
            "history": selectors.assignment_history(client),
        },
        status=400 if request.method == "POST" else 200,
    )


def _act(
    request: HttpRequest,
    user: User,
    client: Organisation,
    action: str,
    assign_form: ArbiterAssignForm,
    stand_in_form: StandInForm,
) -> bool:
    try:
        if action == "assign" and assign_form.is_valid():
            arbiter = assign_form.cleaned_data["arbiter"]
            services.arbiter_assign(
                policyholder=client,
                arbiter=arbiter,
                actor=user,
                reason=assign_form.cleaned_data["reason"],
            )
            messages.success(
                request, _("%(arbiter)s est désormais l'arbitre dédié.") % {"arbiter": arbiter}
            )
            return True
        if action == "stand_in" and stand_in_form.is_valid():
            data = stand_in_form.cleaned_data
            services.stand_in_set(
                policyholder=client,
                arbiter=data["arbiter"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                actor=user,
                reason=data["reason"],
            )
            messages.success(request, _("Suppléant enregistré."))
            return True
        if action == "end_stand_in":
            ended = services.stand_in_end(policyholder=client, actor=user)
            if ended:
                messages.success(request, _("Suppléance terminée."))
            else:
                messages.warning(request, _("Aucune suppléance en cours."))
            return True
    except DomainError as error:
        apply_domain_error(assign_form if action == "assign" else stand_in_form, error)
    return False

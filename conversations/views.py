"""The conversation space: threads, messages, attachments.

Every page goes through the policy (`can_use_conversations`) and the selectors: a thread
outside the scope, or one an insurer user is neither in charge of nor a member of, is a 404
like a missing one; each POST calls one service and shows its refusal on the field it names."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from claims.models import Claim
from conversations import selectors, services
from conversations.forms import MessageForm, SearchForm, ThreadForm, read_attachments
from conversations.models import Attachment, Thread
from portal import policy
from portal import selectors as portal_selectors
from portal.errors import DomainError
from portal.forms import apply_domain_error
from portal.http import page_user, stored_file_download
from portal.models import Organisation, OrganisationKind, User
from portal.policy import page_requires
from studies.models import Study
from underwriting import selectors as underwriting_selectors
from underwriting.models import Buyer, GuaranteeRequest

conversers = page_requires(policy.can_use_conversations)

LINKS: dict[str, Any] = {
    "buyer": Buyer,
    "request": GuaranteeRequest,
    "study": Study,
    "claim": Claim,
}


# --- what a thread is about -------------------------------------------------------------------


def _links(data: Any) -> services.ThreadLinks:
    """The objects named by `?buyer=`, `?request=`, `?study=`, `?claim=`, fetched within the
    scope: one the user cannot see is a 404."""
    found: dict[str, Any] = {}
    for name, model in LINKS.items():
        value = data.get(name)
        if not value:
            continue
        try:
            linked = model.objects.filter(pk=value).first()
        except (ValidationError, ValueError):
            linked = None
        if linked is None:
            raise Http404
        found[name] = linked
    return services.ThreadLinks(**found)


def _linked_client(links: services.ThreadLinks) -> UUID | None:
    for linked in (links.request, links.study, links.claim):
        if linked is not None:
            return linked.policyholder_id
    return None


def _suggested_subject(links: services.ThreadLinks) -> str:
    if links.claim is not None:
        return _("Sinistre %(number)s") % {"number": links.claim.number}
    if links.request is not None:
        return _("Demande sur %(buyer)s") % {"buyer": links.request.buyer.name}
    if links.study is not None:
        return _("Étude de portefeuille")
    if links.buyer is not None:
        return _("Acheteur %(buyer)s") % {"buyer": links.buyer.name}
    return ""


def linked_object(user: User, thread: Thread) -> tuple[str, str] | None:
    """What the thread is about, and the page that shows it to this user."""
    insurer = policy.is_insurer_staff(user)
    if thread.request is not None:
        name = "arbiter_request" if insurer else "request_detail"
        label = _("Demande sur %(buyer)s") % {"buyer": thread.request.buyer.name}
        return label, reverse(name, kwargs={"request_id": thread.request_id})
    if thread.claim is not None:
        name = "claim_handle" if insurer else "claim_detail"
        label = _("Sinistre %(number)s") % {"number": thread.claim.number}
        return label, reverse(name, kwargs={"claim_id": thread.claim_id})
    if thread.study is not None:
        return _("Étude de portefeuille"), reverse(
            "study_detail", kwargs={"study_id": thread.study_id}
        )
    if thread.buyer is not None:
        label = _("Acheteur %(buyer)s") % {"buyer": thread.buyer.name}
        if insurer:
            return label, reverse("buyer_risk_file", kwargs={"buyer_id": thread.buyer_id})
        contract = underwriting_selectors.active_contract_for(
            policyholder_id=thread.policyholder_id
        )
        if contract is None:
            return label, ""
        return label, reverse(
            "buyer_page", kwargs={"contract_id": contract.pk, "buyer_id": thread.buyer_id}
        )
    return None


# --- who asks for whom --------------------------------------------------------------------------


def _clients(user: User) -> QuerySet[Organisation] | None:
    """The clients this user may open a thread for: None for a policyholder's user (its own
    space); a broker's current mandates (the scope); the clients an insurer user is in charge of."""
    organisation = user.organisation
    if organisation is not None and organisation.kind == OrganisationKind.POLICYHOLDER:
        return None
    clients = portal_selectors.visible_policyholders().order_by("name")
    if policy.is_insurer_staff(user):
        clients = clients.filter(pk__in=selectors.clients_in_charge(user))
    return clients


def arbiter_of(policyholder: Organisation) -> User | None:
    """Who answers the client now: its stand-in during an absence, else its dedicated arbiter."""
    stand_in = selectors.stand_in_now(policyholder)
    if stand_in is not None:
        return stand_in.arbiter
    return policyholder.dedicated_arbiter


# --- the list -------------------------------------------------------------------------------


@conversers
@require_GET
def thread_list(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    form = SearchForm(request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    threads = selectors.search_threads(user, query)
    clients = _clients(user)
    own = user.organisation if clients is None else None
    arbiters: list[tuple[Organisation, User | None]] = []
    if own is not None:
        arbiters = [(own, arbiter_of(own))]
    elif clients is not None and not policy.is_insurer_staff(user):
        arbiters = [(client, arbiter_of(client)) for client in clients[:20]]
    return render(
        request,
        "conversations/thread_list.html",
        {
            "form": form,
            "query": query,
            "threads": threads[:200],
            "clients": list(clients) if clients is not None else None,
            "arbiters": arbiters,
            "show_client": clients is not None,
            "can_start": clients is None or clients.exists(),
        },
    )


# --- a new thread -------------------------------------------------------------------------------


@conversers
def thread_new(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    clients = _clients(user)
    if clients is not None and policy.is_insurer_staff(user) and not clients.exists():
        raise Http404  # insurer staff not in charge of any client join threads instead
    posted = request.method == "POST"
    links = _links(request.POST if posted else request.GET)
    linked_client = _linked_client(links)
    if clients is not None and linked_client is not None:
        clients = clients.filter(pk=linked_client)
        if not clients.exists():
            raise Http404
    initial = {
        "subject": _suggested_subject(links),
        "policyholder": linked_client or request.GET.get("policyholder"),
    }
    form = ThreadForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        policyholders=clients,
        initial=initial,
    )
    if posted and form.is_valid():
        client = form.cleaned_data.get("policyholder") or user.organisation
        assert client is not None  # a policyholder's user asks in its own space
        try:
            thread = services.thread_start(
                policyholder=client,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                actor=user,
                links=links,
                attachments=read_attachments(form.cleaned_data["attachments"]),
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Question envoyée à l'arbitre."))
            return redirect("thread_detail", thread_id=thread.pk)
    return render(
        request,
        "conversations/thread_new.html",
        {
            "form": form,
            "links": links,
            "link_values": {
                name: getattr(links, name).pk for name in LINKS if getattr(links, name) is not None
            },
        },
        status=400 if posted else 200,
    )


# --- a thread -------------------------------------------------------------------------------


def _detail_context(user: User, thread: Thread, form: MessageForm) -> dict[str, Any]:
    thread_messages = list(
        thread.messages.select_related("author__organisation").prefetch_related("attachments")
    )
    receipts = selectors.read_receipts(thread, thread_messages)
    return {
        "thread": thread,
        "rows": [(message, receipts.get(message.pk, [])) for message in thread_messages],
        "linked": linked_object(user, thread),
        "participants": selectors.participants(thread),
        "form": form,
    }


@conversers
@require_GET
def thread_detail(request: HttpRequest, thread_id: UUID) -> HttpResponse:
    user = page_user(request)
    thread = selectors.thread_for(user, thread_id)
    services.thread_read(thread_id=thread.pk, actor=user)
    return render(
        request, "conversations/thread_detail.html", _detail_context(user, thread, MessageForm())
    )


@conversers
@require_POST
def message_new(request: HttpRequest, thread_id: UUID) -> HttpResponse:
    user = page_user(request)
    thread = selectors.thread_for(user, thread_id)
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            message = services.message_post(
                thread_id=thread.pk,
                body=form.cleaned_data["body"],
                actor=user,
                attachments=read_attachments(form.cleaned_data["attachments"]),
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("Message envoyé."))
            url = reverse("thread_detail", kwargs={"thread_id": thread.pk})
            return redirect(f"{url}#message-{message.pk}")
    return render(
        request,
        "conversations/thread_detail.html",
        _detail_context(user, thread, form),
        status=400,
    )


@conversers
@require_GET
def attachment_download(request: HttpRequest, thread_id: UUID, attachment_id: UUID) -> HttpResponse:
    """An attachment, through the thread's scope and policy; always as an attachment, typed
    as it was recognised at upload, never sniffed by the browser."""
    thread = selectors.thread_for(page_user(request), thread_id)
    attachment = get_object_or_404(
        Attachment.objects.filter(message__thread=thread), pk=attachment_id
    )
    return stored_file_download(
        attachment.file, name=attachment.name, content_type=attachment.content_type
    )

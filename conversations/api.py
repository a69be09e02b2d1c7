"""Conversations API under /api/v1/threads/: the caller's threads, asking a question (a broker's
tool names the client), a thread with its messages, posting a message (JSON, or multipart with
attachments). Same selectors, services and scope as the pages.

- A thread the caller may not open (another tenant; insurer staff neither in charge nor a
  member) is a 404 on every route, as is a user who may not use conversations
  (`portal.api_base.api_require`).
- Domain errors are `{code, detail, field}` (`portal.api_errors`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from claims.models import Claim
from conversations import selectors, services
from conversations.forms import read_attachments
from conversations.models import Message, Thread
from conversations.serializers import (
    MessageCreateSerializer,
    MessageSerializer,
    ThreadCreateSerializer,
    ThreadDetailSerializer,
    ThreadSerializer,
)
from portal import policy
from portal import selectors as portal_selectors
from portal.api_base import ScopedGenericViewSet, api_require, api_user
from portal.errors import RuleViolation
from portal.models import Organisation, OrganisationKind, User
from studies.models import Study
from underwriting.models import Buyer, GuaranteeRequest

LINKS: dict[str, Any] = {
    "buyer": Buyer,
    "request": GuaranteeRequest,
    "study": Study,
    "claim": Claim,
}
PARSERS = [JSONParser, MultiPartParser, FormParser]


def _links(data: dict[str, Any]) -> services.ThreadLinks:
    found = {}
    for name, model in LINKS.items():
        if data.get(name):
            linked = model.objects.filter(pk=data[name]).first()  # within the scope
            if linked is None:
                raise RuleViolation(_("Introuvable."), field=name)
            found[name] = linked
    return services.ThreadLinks(**found)


def _client(user: User, requested: Any, links: services.ThreadLinks) -> Organisation:
    """The space the question goes to: the caller's own for a policyholder's user; the one
    named (or the linked object's) for a broker or the insurer in charge."""
    organisation = user.organisation
    if organisation is not None and organisation.kind == OrganisationKind.POLICYHOLDER:
        if requested and requested != organisation.pk:
            raise RuleViolation(_("Introuvable."), field="policyholder")
        return organisation
    for linked in (links.request, links.study, links.claim):
        if linked is not None and not requested:
            requested = linked.policyholder_id
    if not requested:
        raise RuleViolation(_("Indiquez le client (`policyholder`)."), field="policyholder")
    clients = portal_selectors.visible_policyholders()
    if policy.is_insurer_staff(user):
        clients = clients.filter(pk__in=selectors.clients_in_charge(user))
    client = clients.filter(pk=requested).first()
    if client is None:
        raise RuleViolation(_("Client inconnu."), field="policyholder")
    return client


@extend_schema_view(
    list=extend_schema(responses=ThreadSerializer(many=True)),
    retrieve=extend_schema(responses=ThreadDetailSerializer),
)
class ThreadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedGenericViewSet):
    """The caller's conversation threads, latest message first; `unread` when a message is
    newer than the caller's last read. Retrieving a thread does not mark it read (the page
    does)."""

    serializer_class = ThreadSerializer
    parser_classes = PARSERS

    def get_serializer_class(self) -> type[ThreadSerializer]:
        return ThreadSerializer if self.action == "list" else ThreadDetailSerializer

    def scoped_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return Thread.objects.all()  # the schema reads the model only (no user)
        user = api_user(self.request)
        if not policy.can_use_conversations(user):
            return Thread.objects.none()
        threads = selectors.threads_for(user).select_related("policyholder")
        if self.action != "list":
            threads = threads.prefetch_related(
                Prefetch(
                    "messages",
                    Message.objects.select_related("author").prefetch_related("attachments"),
                )
            )
        return threads.order_by(F("last_message_at").desc(nulls_last=True), "pk")

    @extend_schema(
        request={
            "application/json": ThreadCreateSerializer,
            "multipart/form-data": ThreadCreateSerializer,
        },
        responses={201: ThreadDetailSerializer},
    )
    def create(self, request: Request) -> Response:
        """Ask a question in a client's space (a broker names the client in `policyholder`),
        optionally about a buyer, a request, a study or a claim."""
        user = api_user(request)
        api_require(policy.can_use_conversations(user))
        if policy.is_insurer_staff(user):
            api_require(bool(selectors.clients_in_charge(user)))
        payload = ThreadCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        links = _links(data)
        thread = services.thread_start(
            policyholder=_client(user, data.get("policyholder"), links),
            subject=data["subject"],
            body=data["body"],
            actor=user,
            links=links,
            attachments=read_attachments(data.get("attachments", [])),
        )
        fresh = self.get_queryset().get(pk=thread.pk)
        return Response(
            ThreadDetailSerializer(fresh, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request={
            "application/json": MessageCreateSerializer,
            "multipart/form-data": MessageCreateSerializer,
        },
        responses={201: MessageSerializer},
    )
    @action(detail=True, methods=["post"])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """Post a message in the thread (with attachments in multipart)."""
        user = api_user(request)
        thread = self.get_object()
        api_require(policy.can_use_conversations(user))
        payload = MessageCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        message = services.message_post(
            thread_id=thread.pk,
            body=payload.validated_data["body"],
            actor=user,
            attachments=read_attachments(payload.validated_data.get("attachments", [])),
        )
        fresh = Message.objects.select_related("author").prefetch_related("attachments")
        return Response(
            MessageSerializer(fresh.get(pk=message.pk), context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


def register(router: BaseRouter) -> None:
    router.register("threads", ThreadViewSet, basename="thread")

"""Threads and messages: who may write is who may open the thread (`selectors.may_open`);
attachments are checked by their content and size before anything is written."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations import selectors
from conversations.events import ConversationEvent
from conversations.models import Attachment, Message, Side, Thread, ThreadMember, ThreadRead
from portal import files, policy
from portal.errors import Forbidden, NotFound, RuleViolation
from portal.events import event_record
from portal.models import Organisation, OrganisationKind, User

ALLOWED = (files.PDF, files.PNG, files.JPEG, files.XLSX, files.CSV)
MAX_ATTACHMENTS = 5
MAX_BODY = 10_000


@dataclass(frozen=True)
class AttachmentInput:
    name: str
    content: bytes


@dataclass(frozen=True)
class ThreadLinks:
    """What a thread is about, optionally (objects already fetched within the scope)."""

    request: Any = None
    buyer: Any = None
    study: Any = None
    claim: Any = None


def _side(user: User) -> str:
    return Side.INSURER if policy.is_insurer_staff(user) else Side.CLIENT


def _checked_attachments(
    attachments: Sequence[AttachmentInput],
) -> list[tuple[AttachmentInput, str]]:
    if len(attachments) > MAX_ATTACHMENTS:
        raise RuleViolation(
            _("%(max)s pièces jointes au plus par message.") % {"max": MAX_ATTACHMENTS},
            field="attachments",
        )
    limit = settings.CONVERSATION_ATTACHMENT_MAX_BYTES
    checked = []
    for attachment in attachments:
        if not attachment.content:
            raise RuleViolation(
                _("« %(name)s » est vide.") % {"name": attachment.name}, field="attachments"
            )
        if len(attachment.content) > limit:
            raise RuleViolation(
                _("« %(name)s » dépasse %(limit)s Mo.")
                % {"name": attachment.name, "limit": limit // (1024 * 1024)},
                field="attachments",
                code="attachment_too_large",
            )
        try:
            kind = files.content_type(attachment.content, allowed=ALLOWED)
        except RuleViolation as refused:
            raise RuleViolation(
                f"« {attachment.name} » : {refused.message}", field="attachments", code=refused.code
            ) from None
        checked.append((attachment, kind))
    return checked


def _body(body: str) -> str:
    body = body.strip()
    if not body:
        raise RuleViolation(_("Écrivez votre message."), field="body")
    if len(body) > MAX_BODY:
        raise RuleViolation(
            _("Message trop long : %(max)s caractères au plus.") % {"max": MAX_BODY}, field="body"
        )
    return body


def _write(
    thread: Thread, *, body: str, actor: User, checked: list[tuple[AttachmentInput, str]]
) -> Message:
    now = timezone.now()
    side = _side(actor)
    message = Message.objects.create(
        policyholder=thread.policyholder, thread=thread, author=actor, side=side, body=body
    )
    for attachment, kind in checked:
        row = Attachment(
            policyholder=thread.policyholder,
            message=message,
            name=(attachment.name or "piece-jointe")[:200],
            content_type=kind,
            size=len(attachment.content),
            sha256=hashlib.sha256(attachment.content).hexdigest(),
        )
        row.file.save("piece", ContentFile(attachment.content), save=False)
        row.save()
    thread.last_message_at = message.created_at
    if side == Side.CLIENT:
        thread.waiting_since = thread.waiting_since or message.created_at
    else:
        thread.waiting_since = None
    thread.save(update_fields=["last_message_at", "waiting_since"])
    ThreadRead.objects.update_or_create(
        policyholder=thread.policyholder,
        thread=thread,
        user=actor,
        defaults={"read_until": max(now, message.created_at)},
    )
    return message


@transaction.atomic(durable=True)
def thread_start(
    *,
    policyholder: Organisation,
    subject: str,
    body: str,
    actor: User,
    links: ThreadLinks | None = None,
    attachments: Sequence[AttachmentInput] = (),
) -> Thread:
    """Open a thread in the policyholder's space with its first message (the policyholder's
    users and brokers; the insurer in charge of the client may open one too)."""
    policy.require(policy.can_use_conversations(actor))
    if policyholder.kind != OrganisationKind.POLICYHOLDER:
        raise NotFound(_("Introuvable."))
    if policy.is_insurer_staff(actor):
        # The insurer opens a thread only with a client it is in charge of (dedicated arbiter
        # or stand-in); other staff join the client's threads.
        in_charge = selectors.arbiters_in_charge([policyholder.pk])[policyholder.pk]
        if actor.pk not in in_charge:
            raise Forbidden()
    subject = subject.strip()
    if not subject:
        raise RuleViolation(_("Donnez un objet à votre question."), field="subject")
    if len(subject) > 200:
        raise RuleViolation(_("Objet trop long : 200 caractères au plus."), field="subject")
    text = _body(body)
    checked = _checked_attachments(attachments)
    links = links or ThreadLinks()
    for name in ("request", "study", "claim"):
        linked = getattr(links, name)
        if linked is not None and linked.policyholder_id != policyholder.pk:
            raise RuleViolation(_("Ce lien n'appartient pas à ce client."), field=name)
    thread = Thread.objects.create(
        policyholder=policyholder,
        subject=subject,
        created_by=actor,
        request=links.request,
        buyer=links.buyer,
        study=links.study,
        claim=links.claim,
    )
    message = _write(thread, body=text, actor=actor, checked=checked)
    event_record(
        action=ConversationEvent.THREAD_STARTED,
        actor=actor,
        obj=message,
        policyholder=policyholder,
        data={"thread": str(thread.pk), "side": message.side},
    )
    return thread


def _lock(thread_id: UUID | str, actor: User) -> Thread:
    thread = selectors.thread_for(actor, thread_id)
    return (
        Thread.objects.select_for_update(of=("self",))
        .select_related("policyholder")
        .get(pk=thread.pk)
    )


@transaction.atomic(durable=True)
def message_post(
    *,
    thread_id: UUID | str,
    body: str,
    actor: User,
    attachments: Sequence[AttachmentInput] = (),
) -> Message:
    policy.require(policy.can_use_conversations(actor))
    thread = _lock(thread_id, actor)
    text = _body(body)
    checked = _checked_attachments(attachments)
    message = _write(thread, body=text, actor=actor, checked=checked)
    event_record(
        action=ConversationEvent.MESSAGE_POSTED,
        actor=actor,
        obj=message,
        policyholder=thread.policyholder,
        data={"thread": str(thread.pk), "side": message.side},
    )
    return message


@transaction.atomic(durable=True)
def thread_read(*, thread_id: UUID | str, actor: User) -> None:
    """Mark the thread read by this user up to now (read receipts, unread counts)."""
    thread = selectors.thread_for(actor, thread_id)
    ThreadRead.objects.update_or_create(
        policyholder=thread.policyholder,
        thread=thread,
        user=actor,
        defaults={"read_until": timezone.now()},
    )


@transaction.atomic(durable=True)
def thread_join(*, thread_id: UUID | str, actor: User) -> Thread:
    """Insurer staff join a client's thread (the arbiter in charge takes part without)."""
    policy.require(policy.can_join_threads(actor))
    thread = Thread.objects.select_related("policyholder").filter(pk=thread_id).first()
    if thread is None:
        raise NotFound(_("Introuvable."))
    member, created = ThreadMember.objects.get_or_create(
        policyholder=thread.policyholder, thread=thread, user=actor
    )
    if created:
        event_record(
            action=ConversationEvent.MEMBER_JOINED,
            actor=actor,
            obj=thread,
            policyholder=thread.policyholder,
            data={"user": actor.pk},
        )
    return thread

"""Who hears of each conversation event. A message reaches every participant of its thread but
its author, in the app at once and by e-mail batched per thread (`Message.batch_key`: at most
one e-mail per thread per person per `OUTBOX_BATCH_WINDOW_SECONDS`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from conversations import selectors
from conversations.events import ConversationEvent
from conversations.models import ArbiterAssignment
from conversations.models import Message as ThreadMessage
from portal.events import Message, Recorded, notifies
from portal.models import User


@notifies(ConversationEvent.THREAD_STARTED, ConversationEvent.MESSAGE_POSTED)
def message_posted(item: Recorded, _context: Any) -> Iterable[Message]:
    message: ThreadMessage = item.obj
    thread = message.thread
    author = message.author
    subject = _("Nouveau message : %(subject)s") % {"subject": thread.subject}
    body = _("%(author)s : %(text)s") % {
        "author": author.get_full_name() or author.get_username(),
        "text": message.body[:500],
    }
    link = reverse("thread_detail", kwargs={"thread_id": thread.pk})
    return [
        Message(
            recipient=user,
            subject=subject,
            body=body,
            link=link,
            batch_key=f"thread:{thread.pk}",
        )
        for user in selectors.participants(thread)
        if user.pk != author.pk
    ]


@notifies(
    ConversationEvent.ARBITER_ASSIGNED,
    ConversationEvent.STAND_IN_SET,
    ConversationEvent.STAND_IN_ENDED,
)
def arbiter_changed(item: Recorded, _context: Any) -> Iterable[Message]:
    assignment: ArbiterAssignment = item.obj
    client = assignment.policyholder
    if item.event.action == ConversationEvent.STAND_IN_ENDED.value:
        subject = _("Fin de suppléance : %(client)s") % {"client": client.name}
    elif item.event.action == ConversationEvent.STAND_IN_SET.value:
        subject = _("Vous êtes suppléant(e) pour %(client)s") % {"client": client.name}
    else:
        subject = _("Vous êtes l'arbitre dédié de %(client)s") % {"client": client.name}
    link = reverse("inbox")
    recipients: list[User | None] = [assignment.arbiter]
    previous = (
        item.event.data.get("from")
        if item.event.action == ConversationEvent.ARBITER_ASSIGNED.value
        else None
    )
    if previous:
        recipients.append(User.objects.filter(pk=previous).first())
    return [
        Message(recipient=user, subject=subject, body=item.event.reason, link=link)
        for user in recipients
        if user is not None
    ]

"""One event per change: its audit row and its pending deliveries, in the change's transaction.

A write service calls `event_record` (or `events_record_bulk`) once per change. The event's type
is a member of its app's enumeration (`<app>/events.py`); the app's `notifications.py` maps the
type to its messages (recipients, subject, body, link), so a write path never composes one.
Every message becomes an in-app `Notification` and a pending e-mail `Delivery` in the same
transaction; the dispatcher (`portal.outbox`) sends what is pending after commit, and beat
sweeps what a lost task left behind. Unique constraints on (event, recipient[, channel]) make
each delivery happen once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models

from portal.models import (
    AuditEvent,
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    Organisation,
    User,
)


class EventType(models.TextChoices):
    """Base of every app's event enumeration: values are `<object>.<what happened>`."""


@dataclass(frozen=True)
class Recorded:
    """An event as a notifier sees it: the audit row and the object it is about."""

    event: AuditEvent
    obj: Any


@dataclass(frozen=True)
class Message:
    recipient: User | None
    subject: str
    body: str = ""
    link: str = ""
    # An invitation reaches an account that cannot sign in yet (inactive until it accepts).
    invitation: bool = False
    # Messages with the same key ("thread:<id>") are e-mailed together: at most one e-mail per
    # key per recipient per `OUTBOX_BATCH_WINDOW` (the in-app notifications stay one each).
    batch_key: str = ""
    # The policyholder the message is about, when not the event's (an alert is recorded once
    # for every exposed policyholder): it bounds who may still read it (`portal.selectors`).
    policyholder_id: Any = None


Notifier = Callable[[Recorded, Any], Iterable[Message]]
Prepare = Callable[[Sequence[Recorded]], Any]


@dataclass(frozen=True)
class _Registration:
    notifier: Notifier
    prepare: Prepare | None


_NOTIFIERS: dict[str, _Registration] = {}


def notifies(*types: EventType, prepare: Prepare | None = None) -> Callable[[Notifier], Notifier]:
    """Register the function that turns one event of these types into its messages.

    `prepare`, if given, is called once per batch of events (a billing run records thousands)
    and its result is handed to every call, so recipients are loaded in one query.
    """

    def register(function: Notifier) -> Notifier:
        for event_type in types:
            if event_type.value in _NOTIFIERS:
                raise ValueError(f"{event_type.value} already has a notifier")
            _NOTIFIERS[event_type.value] = _Registration(notifier=function, prepare=prepare)
        return function

    return register


def _actor(actor: User | None) -> User | None:
    return actor if actor is not None and actor.pk else None


def event_record(
    *,
    action: EventType,
    actor: User | None,
    obj: Any,
    policyholder: Organisation | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one change: its audit row, and its notifications and e-mails as pending rows."""
    event = AuditEvent.objects.create(
        actor=_actor(actor),
        policyholder=policyholder,
        action=action.value,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        reason=reason,
        data=data or {},
    )
    _deliver(action, [Recorded(event=event, obj=obj)])
    return event


def events_record_bulk(
    *,
    action: EventType,
    actor: User | None,
    items: Sequence[tuple[Any, Organisation | Any, dict[str, Any]]],
    reason: str = "",
) -> list[AuditEvent]:
    """Record one event per `(obj, policyholder or its id, data)`, in bulk (a billing run, a
    monitoring sweep), all with the same `reason`."""
    if not items:
        return []
    events = AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=_actor(actor),
                policyholder_id=getattr(policyholder, "pk", policyholder),
                action=action.value,
                object_type=obj._meta.label,
                object_id=str(obj.pk),
                reason=reason,
                data=data,
            )
            for obj, policyholder, data in items
        ]
    )
    _deliver(
        action,
        [Recorded(event=event, obj=obj) for event, (obj, _, _) in zip(events, items, strict=True)],
    )
    return events


# Notifications and their e-mail deliveries, written in one statement per batch: a billing
# run or a monitoring sweep tells tens of thousands of people at once. Table names are the
# models'; every value is bound.
_NOTIFY = f"""
WITH notified AS (
    INSERT INTO {Notification._meta.db_table}
           (event_id, recipient_id, subject, body, link, batch_key, policyholder_id, created_at)
    SELECT u.event_id, u.recipient_id, u.subject, u.body, u.link, u.batch_key, u.policyholder_id,
           clock_timestamp()
      FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                  %s::uuid[])
           AS u (event_id, recipient_id, subject, body, link, batch_key, policyholder_id)
    RETURNING id, event_id, recipient_id, batch_key
)
INSERT INTO {Delivery._meta.db_table}
       (event_id, recipient_id, notification_id, channel, status, attempts, last_error,
        batch_key, created_at)
SELECT notified.event_id, notified.recipient_id, notified.id, %s, %s, 0, '',
       notified.batch_key, clock_timestamp()
  FROM notified JOIN {User._meta.db_table} AS recipient ON recipient.id = notified.recipient_id
 WHERE recipient.email <> ''
RETURNING id
"""  # noqa: S608


def _deliver(action: EventType, recorded: Sequence[Recorded]) -> None:
    registration = _NOTIFIERS.get(action.value)
    if registration is None or not recorded:
        return
    context = registration.prepare(recorded) if registration.prepare else None
    # event, recipient, subject, body, link, batch key, policyholder
    rows: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
    for item in recorded:
        seen: set[int] = set()
        for message in registration.notifier(item, context):
            recipient = message.recipient
            if recipient is None or recipient.pk in seen:
                continue
            if not recipient.is_active and not message.invitation:
                continue
            seen.add(recipient.pk)
            for column, value in zip(
                rows,
                (
                    item.event.pk,
                    recipient.pk,
                    message.subject[:200],
                    message.body,
                    message.link,
                    message.batch_key,
                    message.policyholder_id or item.event.policyholder_id,
                ),
                strict=True,
            ):
                column.append(value)
    if not rows[0]:
        return
    with connection.cursor() as cursor:
        cursor.execute(_NOTIFY, [*rows, DeliveryChannel.EMAIL.value, DeliveryStatus.PENDING.value])
        ids = [row[0] for row in cursor.fetchall()]
    if ids:
        from portal.kick import kick_after_commit
        from portal.tasks import deliveries_dispatch

        # The fast path: the beat sweep sends whatever this kick did not (broker down).
        kick_after_commit(deliveries_dispatch, delivery_ids=ids)

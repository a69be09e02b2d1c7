"""Writes for the portal: audit rows and notifications (in-app now, e-mail after commit)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from portal.models import AuditEvent, Notification, Organisation, User


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: Any,
    policyholder: Organisation | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        policyholder=policyholder,
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        reason=reason,
        data=data or {},
    )


def notification_send(
    *, recipients: Iterable[User], subject: str, body: str = "", link: str = ""
) -> list[Notification]:
    """Create one in-app notification per distinct recipient and e-mail each after commit."""
    from portal.tasks import send_notification_email

    unique = {user.pk: user for user in recipients if user is not None and user.is_active}
    created = Notification.objects.bulk_create(
        [
            Notification(recipient=user, subject=subject, body=body, link=link)
            for user in unique.values()
        ]
    )
    for notification in created:
        # robust: a broker outage must not fail the business change that was just committed;
        # the in-app notification is there either way.
        transaction.on_commit(
            lambda pk=notification.pk: send_notification_email.delay(notification_id=pk),
            robust=True,
        )
    return created

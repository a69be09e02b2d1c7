"""A client's dedicated arbiter and, during an absence, a stand-in; the history is kept
(`ArbiterAssignment`). The inbox follows: it lists the threads of the clients a user is in
charge of now."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.events import ConversationEvent
from conversations.models import ArbiterAssignment, AssignmentKind
from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import Organisation, OrganisationKind, User


def _arbiter(user: User | None, field: str) -> User:
    if user is None or not (
        user.is_active and user.role in policy.ASSIGNABLE_ARBITERS and policy.is_insurer_staff(user)
    ):
        raise RuleViolation(_("Choisissez un arbitre."), field=field)
    return user


def _client(policyholder: Organisation) -> Organisation:
    if policyholder.kind != OrganisationKind.POLICYHOLDER:
        raise RuleViolation(_("Choisissez un client."), field="policyholder")
    return Organisation.objects.select_for_update().get(pk=policyholder.pk)


@transaction.atomic(durable=True)
def arbiter_assign(
    *, policyholder: Organisation, arbiter: User, actor: User, reason: str = ""
) -> ArbiterAssignment:
    """Make `arbiter` the client's dedicated arbiter from now on; the former one's assignment
    ends now. The inbox moves with it."""
    policy.require(policy.can_assign_arbiters(actor))
    arbiter = _arbiter(arbiter, "arbiter")
    client = _client(policyholder)
    now = timezone.now()
    previous = client.dedicated_arbiter_id
    if previous == arbiter.pk:
        raise Conflict(_("C'est déjà l'arbitre dédié de ce client."), field="arbiter")
    ArbiterAssignment.objects.filter(
        policyholder=client, kind=AssignmentKind.DEDICATED, ends_at__isnull=True
    ).update(ends_at=now)
    if (
        previous is not None
        and not ArbiterAssignment.objects.filter(
            policyholder=client, kind=AssignmentKind.DEDICATED
        ).exists()
    ):
        # The first reassignment also records who was in charge before it.
        ArbiterAssignment.objects.create(
            policyholder=client,
            arbiter_id=previous,
            kind=AssignmentKind.DEDICATED,
            starts_at=now - timedelta(seconds=1),
            ends_at=now,
            reason=_("Arbitre dédié avant la première réattribution"),
        )
    assignment = ArbiterAssignment.objects.create(
        policyholder=client,
        arbiter=arbiter,
        kind=AssignmentKind.DEDICATED,
        starts_at=now,
        set_by=actor,
        reason=reason[:200],
    )
    client.dedicated_arbiter = arbiter
    client.save(update_fields=["dedicated_arbiter"])
    event_record(
        action=ConversationEvent.ARBITER_ASSIGNED,
        actor=actor,
        obj=assignment,
        policyholder=client,
        reason=reason,
        data={"from": previous, "to": arbiter.pk},
    )
    return assignment


@transaction.atomic(durable=True)
def stand_in_set(
    *,
    policyholder: Organisation,
    arbiter: User,
    starts_at: datetime,
    ends_at: datetime | None,
    actor: User,
    reason: str = "",
) -> ArbiterAssignment:
    """A stand-in answers for the client from `starts_at` to `ends_at` (the dedicated
    arbiter's absence); a stand-in already planned over that time ends where this one starts."""
    policy.require(policy.can_assign_arbiters(actor))
    arbiter = _arbiter(arbiter, "arbiter")
    client = _client(policyholder)
    if ends_at is not None and ends_at <= starts_at:
        raise RuleViolation(_("La fin doit suivre le début."), field="ends_at")
    if arbiter.pk == client.dedicated_arbiter_id:
        raise RuleViolation(_("Le suppléant doit être un autre arbitre."), field="arbiter")
    for current in ArbiterAssignment.objects.filter(
        policyholder=client, kind=AssignmentKind.STAND_IN
    ).exclude(ends_at__lte=starts_at):
        if current.starts_at >= starts_at:
            current.delete()  # planned within the new absence: replaced (the event keeps it)
        else:
            current.ends_at = starts_at
            current.save(update_fields=["ends_at"])
    assignment = ArbiterAssignment.objects.create(
        policyholder=client,
        arbiter=arbiter,
        kind=AssignmentKind.STAND_IN,
        starts_at=starts_at,
        ends_at=ends_at,
        set_by=actor,
        reason=reason[:200],
    )
    event_record(
        action=ConversationEvent.STAND_IN_SET,
        actor=actor,
        obj=assignment,
        policyholder=client,
        reason=reason,
        data={
            "arbiter": arbiter.pk,
            "from": starts_at.isoformat(),
            "to": ends_at.isoformat() if ends_at else None,
        },
    )
    return assignment


@transaction.atomic(durable=True)
def stand_in_end(*, policyholder: Organisation, actor: User) -> int:
    """End the stand-in in force now (the dedicated arbiter is back)."""
    policy.require(policy.can_assign_arbiters(actor))
    client = _client(policyholder)
    now = timezone.now()
    ended = 0
    for current in ArbiterAssignment.objects.filter(
        policyholder=client, kind=AssignmentKind.STAND_IN, starts_at__lte=now
    ).exclude(ends_at__lte=now):
        current.ends_at = now
        current.save(update_fields=["ends_at"])
        ended += 1
        event_record(
            action=ConversationEvent.STAND_IN_ENDED,
            actor=actor,
            obj=current,
            policyholder=client,
            data={"arbiter": current.arbiter_id},
        )
    return ended

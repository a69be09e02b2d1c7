"""Conversation reads within the active scope: who takes part in a thread, the threads a user
may open, unread counts, the arbiter's inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.http import Http404
from django.utils import timezone

from conversations.models import ArbiterAssignment, AssignmentKind, Thread, ThreadMember, ThreadRead
from portal import policy
from portal.models import Mandate, Organisation, Role, User
from portal.timeutils import business_today
from underwriting.models import Contract, ContractStatus


def arbiters_in_charge(
    policyholder_ids: list[UUID], *, at: datetime | None = None
) -> dict[UUID, set[int]]:
    """For each policyholder, the insurer users who answer for it now: its dedicated arbiter
    and, during an absence, its stand-in."""
    now = at or timezone.now()
    found: dict[UUID, set[int]] = {ph: set() for ph in policyholder_ids}
    for pk, arbiter_id in Organisation.objects.filter(pk__in=policyholder_ids).values_list(
        "pk", "dedicated_arbiter_id"
    ):
        if arbiter_id is not None:
            found[pk].add(arbiter_id)
    for policyholder_id, arbiter_id in (
        ArbiterAssignment.objects.filter(
            policyholder_id__in=policyholder_ids,
            kind=AssignmentKind.STAND_IN,
            starts_at__lte=now,
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .values_list("policyholder_id", "arbiter_id")
    ):
        found[policyholder_id].add(arbiter_id)
    return found


def stand_in_now(policyholder: Organisation) -> ArbiterAssignment | None:
    now = timezone.now()
    return (
        ArbiterAssignment.objects.filter(
            policyholder=policyholder, kind=AssignmentKind.STAND_IN, starts_at__lte=now
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("arbiter")
        .first()
    )


def insurer_may_open(user: User, thread: Thread) -> bool:
    in_charge = arbiters_in_charge([thread.policyholder_id])[thread.policyholder_id]
    return user.pk in in_charge or ThreadMember.objects.filter(thread=thread, user=user).exists()


def may_open(user: User, thread: Thread) -> bool:
    """A thread the scope shows is open to its policyholder's users and brokers; an insurer user
    must be in charge of the client (dedicated arbiter, stand-in) or have joined."""
    if not policy.can_use_conversations(user):
        return False
    if policy.is_insurer_staff(user):
        return insurer_may_open(user, thread)
    return True


def thread_for(user: User, thread_id: UUID | str) -> Thread:
    """The thread, if this user may open it; 404 otherwise (another tenant, or an insurer
    user neither in charge nor a member)."""
    thread = (
        Thread.objects.select_related("policyholder", "buyer", "request", "study", "claim")
        .filter(pk=thread_id)
        .first()
    )
    if thread is None or not may_open(user, thread):
        raise Http404
    return thread


def client_participants(policyholder_id: UUID) -> list[User]:
    """The policyholder's active users and the users of its brokers with a current mandate."""
    today = business_today()
    brokers = (
        Mandate.objects.filter(policyholder_id=policyholder_id, starts_on__lte=today)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .values_list("broker_id", flat=True)
    )
    return list(
        User.objects.filter(
            Q(organisation_id=policyholder_id) | Q(organisation_id__in=brokers, role=Role.BROKER),
            is_active=True,
        ).order_by("pk")
    )


def insurer_participants(thread: Thread) -> list[User]:
    in_charge = arbiters_in_charge([thread.policyholder_id])[thread.policyholder_id]
    members = set(ThreadMember.objects.filter(thread=thread).values_list("user_id", flat=True))
    return list(User.objects.filter(pk__in=in_charge | members, is_active=True).order_by("pk"))


def participants(thread: Thread) -> list[User]:
    return [*client_participants(thread.policyholder_id), *insurer_participants(thread)]


def _read_until(user: User) -> Subquery:
    return Subquery(
        ThreadRead.objects.filter(thread=OuterRef("pk"), user=user).values("read_until")[:1]
    )


def threads_for(user: User) -> QuerySet[Thread]:
    """The threads this user may open, with `read_until` and `unread` (a message newer than
    the user's last read)."""
    threads = Thread.objects.all()
    if policy.is_insurer_staff(user):
        clients = [
            pk
            for pk, arbiters in arbiters_in_charge(
                list(Organisation.objects.filter(kind="policyholder").values_list("pk", flat=True))
            ).items()
            if user.pk in arbiters
        ]
        joined = ThreadMember.objects.filter(user=user, thread=OuterRef("pk"))
        threads = threads.filter(Q(policyholder_id__in=clients) | Exists(joined))
    return (
        threads.select_related("policyholder", "buyer")
        .annotate(read_until=_read_until(user))
        .annotate(
            unread=ExpressionWrapper(
                Q(last_message_at__isnull=False)
                & (Q(read_until__isnull=True) | Q(last_message_at__gt=F("read_until"))),
                output_field=BooleanField(),
            )
        )
    )


def unread_count(user: User) -> int:
    """How many threads have a message this user has not read (the header's badge)."""
    return threads_for(user).filter(unread=True).count()  # type: ignore[misc]  # annotation


@dataclass(frozen=True)
class InboxRow:
    thread: Thread
    waiting: timedelta | None
    overdue: bool


def inbox(user: User, *, search: str = "") -> list[InboxRow]:
    """The arbiter's inbox across their clients: oldest unanswered first, then the rest by
    latest message; overdue when the client has waited longer than its contract's answer-time
    target."""
    threads = threads_for(user)
    if search:
        threads = threads.filter(
            Q(subject__icontains=search)
            | Q(policyholder__name__icontains=search)
            | Q(messages__body__icontains=search)
        ).distinct()
    target = Subquery(
        Contract.objects.filter(
            policyholder=OuterRef("policyholder"),
            status__in=[ContractStatus.ACTIVE, ContractStatus.SUSPENDED],
        ).values("answer_time_hours")[:1]
    )
    rows = threads.annotate(target_hours=target).order_by(
        F("waiting_since").asc(nulls_last=True), F("last_message_at").desc(nulls_last=True)
    )
    now = timezone.now()
    result = []
    for thread in rows[:200]:
        waiting = now - thread.waiting_since if thread.waiting_since else None
        hours: Any = getattr(thread, "target_hours", None) or 24
        result.append(
            InboxRow(
                thread=thread,
                waiting=waiting,
                overdue=waiting is not None and waiting > timedelta(hours=hours),
            )
        )
    return result


def search_threads(user: User, query: str) -> QuerySet[Thread]:
    threads = threads_for(user)
    if query:
        threads = threads.filter(
            Q(subject__icontains=query) | Q(messages__body__icontains=query)
        ).distinct()
    return threads.order_by(F("last_message_at").desc(nulls_last=True))


def assignment_history(policyholder: Organisation) -> QuerySet[ArbiterAssignment]:
    return ArbiterAssignment.objects.filter(policyholder=policyholder).select_related(
        "arbiter", "set_by"
    )


def threads_linked(user: User, **link: Any) -> QuerySet[Thread]:
    """The threads this user may open about one object (`buyer=`, `request=`, `study=`,
    `claim=`), latest first: shown on that object's page."""
    wanted = {name: value for name, value in link.items() if value is not None}
    if not wanted or not policy.can_use_conversations(user):
        return Thread.objects.none()
    return threads_for(user).filter(**wanted).order_by(F("last_message_at").desc(nulls_last=True))


def read_receipts(thread: Thread, messages: list[Any]) -> dict[Any, list[User]]:
    """For each message, who among the thread's other participants has read it (their
    `read_until` is no earlier than the message)."""
    people = {user.pk: user for user in participants(thread)}
    reads = list(
        ThreadRead.objects.filter(thread=thread, user_id__in=list(people)).values_list(
            "user_id", "read_until"
        )
    )
    return {
        message.pk: [
            people[user_id]
            for user_id, read_until in reads
            if user_id != message.author_id and read_until >= message.created_at
        ]
        for message in messages
    }


def clients_in_charge(user: User) -> list[UUID]:
    """The policyholders an insurer user answers for now (dedicated arbiter or stand-in)."""
    ids = list(Organisation.objects.filter(kind="policyholder").values_list("pk", flat=True))
    return [pk for pk, arbiters in arbiters_in_charge(ids).items() if user.pk in arbiters]


def joinable_threads(user: User, query: str) -> QuerySet[Thread]:
    """Other clients' threads matching a search, which insurer staff may join (the back
    office's "all threads" search)."""
    if not query or not policy.can_join_threads(user):
        return Thread.objects.none()
    mine = threads_for(user).values("pk")
    return (
        Thread.objects.filter(Q(subject__icontains=query) | Q(messages__body__icontains=query))
        .exclude(pk__in=mine)
        .select_related("policyholder")
        .distinct()
        .order_by(F("last_message_at").desc(nulls_last=True))[:50]
    )


def unread_badge(user: User) -> int:
    """`unread_count` in one query, for the header of every page: the same threads (an insurer
    user's: the clients whose dedicated arbiter or stand-in it is now, and those it joined)."""
    threads = Thread.objects.filter(last_message_at__isnull=False)
    if policy.is_insurer_staff(user):
        now = timezone.now()
        stand_in = ArbiterAssignment.objects.filter(
            policyholder=OuterRef("policyholder"),
            arbiter=user,
            kind=AssignmentKind.STAND_IN,
            starts_at__lte=now,
        ).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        joined = ThreadMember.objects.filter(user=user, thread=OuterRef("pk"))
        threads = threads.filter(
            Q(policyholder__dedicated_arbiter=user) | Exists(stand_in) | Exists(joined)
        )
    read = ThreadRead.objects.filter(
        thread=OuterRef("pk"), user=user, read_until__gte=OuterRef("last_message_at")
    )
    return threads.exclude(Exists(read)).count()

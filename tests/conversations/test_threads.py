"""Conversations through their services: who takes part (the policyholder's users, its brokers
while their mandate runs, the arbiter in charge, insurer staff who joined; never another
tenant), attachments checked by content, e-mails batched per thread per person, the arbiter's
inbox, reassignment and stand-in."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core import mail
from django.http import Http404
from django.utils import timezone
from PIL import Image
from pytest_django import Settings

from conversations import selectors, services
from conversations.models import ArbiterAssignment, Message, Thread
from portal.errors import Forbidden, RuleViolation
from portal.models import Delivery, Mandate, Notification, Role, User
from portal.outbox import deliveries_dispatch, deliveries_pending
from portal.timeutils import business_today
from tests.support.factories import UserFactory
from tests.support.scopes import acting_as, insurer_scope
from tests.support.world import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reads_as_the_insurer() -> Iterator[None]:
    """The assertions read across tenants; each service call enters its actor's own scope."""
    with insurer_scope():
        yield


def _ask(world: World, by: User | None = None, subject: str = "Limite sur Revendeur X") -> Thread:
    actor = by or world.alice.credit_manager
    with acting_as(actor):
        return services.thread_start(
            policyholder=world.alice.organisation,
            subject=subject,
            body="Pouvez-vous revoir la limite ?",
            actor=actor,
        )


def _reply(world: World, thread: Thread, actor: User, body: str = "Réponse") -> Message:
    with acting_as(actor):
        return services.message_post(thread_id=thread.pk, body=body, actor=actor)


def _recipients(thread: Thread) -> set[str]:
    return set(
        Notification.objects.filter(batch_key=f"thread:{thread.pk}").values_list(
            "recipient__username", flat=True
        )
    )


def test_participants_are_the_client_its_broker_and_its_arbiter(world: World) -> None:
    thread = _ask(world)
    arbiter = world.staff[Role.ARBITER]

    people = {user.username for user in selectors.participants(thread)}

    assert people == {
        *(user.username for user in world.alice.users.values()),
        world.broker_user.username,
        arbiter.username,
    }
    # Everyone but the author is told.
    assert _recipients(thread) == people - {world.alice.credit_manager.username}


def test_another_tenant_and_insurer_staff_who_did_not_join_cannot_open_it(world: World) -> None:
    thread = _ask(world)
    senior = world.staff[Role.SENIOR_ARBITER]
    for outsider in (world.bob.credit_manager, senior):
        with acting_as(outsider), pytest.raises(Http404):
            selectors.thread_for(outsider, thread.pk)
        with acting_as(outsider), pytest.raises(Http404):
            services.message_post(thread_id=thread.pk, body="?", actor=outsider)
    with acting_as(senior):
        services.thread_join(thread_id=thread.pk, actor=senior)
        assert selectors.thread_for(senior, thread.pk) == thread
    assert senior in selectors.participants(thread)


def test_a_broker_loses_access_the_day_its_mandate_ends(world: World) -> None:
    thread = _ask(world, by=world.broker_user)
    assert Thread.objects.get().created_by == world.broker_user
    Mandate.objects.filter(broker=world.broker).update(ends_on=business_today() - timedelta(days=1))

    with acting_as(world.broker_user), pytest.raises(Http404):
        selectors.thread_for(world.broker_user, thread.pk)
    assert world.broker_user not in selectors.participants(thread)


def test_the_inbox_lists_oldest_unanswered_first_and_flags_overdue(world: World) -> None:
    arbiter = world.staff[Role.ARBITER]
    old = _ask(world, subject="Ancienne question")
    Thread.objects.filter(pk=old.pk).update(waiting_since=timezone.now() - timedelta(hours=30))
    recent = _ask(world, subject="Nouvelle question")
    answered = _ask(world, subject="Répondu")
    _reply(world, answered, arbiter)

    with acting_as(arbiter):
        rows = selectors.inbox(arbiter)

    assert [row.thread.subject for row in rows] == [
        "Ancienne question",
        "Nouvelle question",
        "Répondu",
    ]
    assert [row.overdue for row in rows] == [True, False, False]  # the contract's 24 h target
    assert rows[2].waiting is None
    assert recent.waiting_since is not None


def test_unread_counts_clear_when_read(world: World) -> None:
    arbiter = world.staff[Role.ARBITER]
    thread = _ask(world)
    manager = world.alice.credit_manager
    with acting_as(arbiter):
        assert selectors.unread_count(arbiter) == 1
    _reply(world, thread, arbiter)
    with acting_as(arbiter):
        assert selectors.unread_count(arbiter) == 0  # its own reply marks the thread read
    with acting_as(manager):
        assert selectors.unread_count(manager) == 1
        services.thread_read(thread_id=thread.pk, actor=manager)
        assert selectors.unread_count(manager) == 0


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(out, format="PNG")
    return out.getvalue()


def test_attachments_are_checked_by_their_content(world: World) -> None:
    thread = _ask(world)
    manager = world.alice.credit_manager
    good = [
        services.AttachmentInput("bilan.pdf", b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"),
        services.AttachmentInput("photo.png", _png()),
        services.AttachmentInput("encours.csv", b"siren;encours\n552100554;12 500,00\n"),
    ]
    with acting_as(manager):
        message = services.message_post(
            thread_id=thread.pk, body="Pièces", actor=manager, attachments=good
        )
    assert sorted(a.content_type for a in message.attachments.all()) == [
        "application/pdf",
        "image/png",
        "text/csv",
    ]
    for name, content in (
        ("facture.pdf", b"MZ\x90\x00 an executable"),
        ("photo.png", b"\x89PNG\r\n\x1a\n garbage"),
    ):
        with acting_as(manager), pytest.raises(RuleViolation) as refused:
            services.message_post(
                thread_id=thread.pk,
                body="Pièce",
                actor=manager,
                attachments=[services.AttachmentInput(name, content)],
            )
        assert refused.value.field == "attachments" and name in refused.value.message
    assert Message.objects.count() == 2  # the refused ones wrote nothing


@pytest.mark.django_db(transaction=True)
def test_emails_are_batched_one_per_thread_per_person_per_quarter_hour(
    world: World, settings: Settings
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    arbiter = world.staff[Role.ARBITER]
    thread = _ask(world)
    deliveries_dispatch(delivery_ids=list(Delivery.objects.values_list("pk", flat=True)))
    assert sum(arbiter.email in m.to for m in mail.outbox) == 1
    mail.outbox.clear()

    for text in ("Précision 1", "Précision 2", "Précision 3"):
        _reply(world, thread, world.alice.credit_manager, text)
    deliveries_dispatch(delivery_ids=list(Delivery.objects.values_list("pk", flat=True)))

    assert [m for m in mail.outbox if arbiter.email in m.to] == []  # within the window
    assert Notification.objects.filter(recipient=arbiter).count() == 4  # in the app at once
    pending = Delivery.objects.filter(recipient=arbiter, status="pending")
    assert pending.count() == 3
    assert deliveries_pending(older_than=timedelta(0)) == [] or all(
        d.recipient_id != arbiter.pk
        for d in Delivery.objects.filter(pk__in=deliveries_pending(older_than=timedelta(0)))
    )

    # A quarter of an hour later the sweep sends the three in one e-mail.
    Delivery.objects.filter(recipient=arbiter, status="sent").update(
        sent_at=timezone.now() - timedelta(minutes=16)
    )
    pending.update(not_before=None)
    deliveries_dispatch(delivery_ids=list(pending.values_list("pk", flat=True)))
    to_arbiter = [m for m in mail.outbox if arbiter.email in m.to]
    assert len(to_arbiter) == 1
    assert to_arbiter[0].subject.startswith("3 nouveaux messages")
    assert "/conversations/" in to_arbiter[0].body


def test_reassigning_the_dedicated_arbiter_moves_the_inbox_with_history(world: World) -> None:
    admin, first = world.staff[Role.ADMIN], world.staff[Role.ARBITER]
    second = UserFactory.create(organisation=world.insurer, role=Role.ARBITER)
    thread = _ask(world)

    with acting_as(admin):
        services.arbiter_assign(
            policyholder=world.alice.organisation,
            arbiter=second,
            actor=admin,
            reason="Portefeuille",
        )

    with acting_as(second):
        assert [row.thread for row in selectors.inbox(second)] == [thread]
    with acting_as(first):
        assert [row.thread.pk for row in selectors.inbox(first)] == [
            t.pk for t in Thread.objects.filter(policyholder=world.bob.organisation)
        ]
        with pytest.raises(Http404):
            selectors.thread_for(first, thread.pk)
    history = list(
        ArbiterAssignment.objects.filter(policyholder=world.alice.organisation).order_by(
            "starts_at"
        )
    )
    assert [(a.arbiter, a.ends_at is None) for a in history] == [(first, False), (second, True)]


def test_a_stand_in_answers_during_the_absence_only(world: World) -> None:
    admin, dedicated = world.staff[Role.ADMIN], world.staff[Role.ARBITER]
    stand_in = world.staff[Role.SENIOR_ARBITER]
    thread = _ask(world)
    now = timezone.now()

    with acting_as(admin):
        services.stand_in_set(
            policyholder=world.alice.organisation,
            arbiter=stand_in,
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(days=7),
            actor=admin,
            reason="Congés",
        )
    assert stand_in in selectors.participants(thread)
    assert dedicated in selectors.participants(thread)
    _reply(world, thread, stand_in, "Je remplace votre arbitre cette semaine.")

    with acting_as(admin):
        assert services.stand_in_end(policyholder=world.alice.organisation, actor=admin) == 1
    assert stand_in not in selectors.participants(thread)
    with acting_as(stand_in), pytest.raises(Http404):
        selectors.thread_for(stand_in, thread.pk)


def test_only_an_insurer_admin_assigns_arbiters(world: World) -> None:
    for user in (world.staff[Role.SENIOR_ARBITER], world.alice.credit_manager):
        with acting_as(user), pytest.raises(Forbidden):
            services.arbiter_assign(
                policyholder=world.alice.organisation,
                arbiter=world.staff[Role.SENIOR_ARBITER],
                actor=user,
            )

"""The outbox (DESIGN §5): every e-mail of a change is written with the change and sent once,
whether the kick after commit runs twice, never arrives, or two dispatchers race for it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from portal import outbox, tasks
from portal.models import AuditEvent, Delivery, DeliveryChannel, DeliveryStatus, Notification, User
from tests.support.billing import celery_eager
from tests.support.factories import BuyerFactory
from tests.support.scopes import acting_as, scope_of
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting import services
from underwriting.models import GuaranteeRequest

CaptureCallbacks = Callable[..., Any]


def decide(world: World) -> GuaranteeRequest:
    """alice's request, approved by the senior arbiter: alice's credit manager and org admin
    are each to receive one e-mail about it."""
    request = submit(world.alice, BuyerFactory.create(name="Quincaillerie Martin"))
    senior = world.staff["senior_arbiter"]
    with acting_as(senior):
        services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=senior)
    return request


def decision_deliveries(request: GuaranteeRequest) -> list[Delivery]:
    return list(
        Delivery.objects.filter(
            event__action="guarantee_request.decided", event__object_id=str(request.pk)
        ).select_related("recipient")
    )


def decision_mails(outbox_: list[EmailMessage]) -> Counter[str]:
    """Who received the decision's e-mail (its subject is the notification's), and how often."""
    subjects = set(
        Notification.objects.filter(event__action="guarantee_request.decided").values_list(
            "subject", flat=True
        )
    )
    assert len(subjects) == 1 and "Quincaillerie Martin" in subjects.pop()
    decided = Notification.objects.filter(event__action="guarantee_request.decided").first()
    assert decided is not None
    return Counter(
        address
        for message in outbox_
        if message.subject == decided.subject
        for address in message.to
    )


def age_pending_deliveries(by: timedelta = timedelta(minutes=1)) -> None:
    """What the sweep sees a while later: pending deliveries older than its grace period."""
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(created_at=timezone.now() - by)


def wholesaler_addresses(world: World) -> Counter[str]:
    return Counter({world.alice.credit_manager.email: 1, world.alice.users["org_admin"].email: 1})


def test_a_redelivered_or_retried_notification_task_sends_one_email_not_two(
    world: World,
    django_capture_on_commit_callbacks: CaptureCallbacks,
    mailoutbox: list[EmailMessage],
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as kicks:
        request = decide(world)
    deliveries = decision_deliveries(request)
    assert {delivery.recipient.email for delivery in deliveries} == set(wholesaler_addresses(world))
    assert all(delivery.status == DeliveryStatus.PENDING for delivery in deliveries)
    assert mailoutbox == []  # nothing leaves before the change is committed
    ids = [delivery.pk for delivery in Delivery.objects.all()]

    # The kick runs (eagerly, in-process), then is redelivered by the broker; a retried task
    # comes again with the same ids; the sweep comes by later on.
    with celery_eager():
        for kick in [*kicks, *kicks]:
            kick()
    tasks.deliveries_dispatch.apply(kwargs={"delivery_ids": ids})
    tasks.deliveries_dispatch(delivery_ids=ids)
    age_pending_deliveries()
    assert tasks.deliveries_sweep.apply().get() == 0

    assert decision_mails(mailoutbox) == wholesaler_addresses(world)
    assert len(mailoutbox) == len(ids)  # every delivery of the test, each once
    for delivery in Delivery.objects.filter(pk__in=ids):
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)
        assert delivery.sent_at is not None


def test_a_delivery_whose_enqueue_was_lost_is_sent_by_the_sweep(
    world: World,
    django_capture_on_commit_callbacks: CaptureCallbacks,
    mailoutbox: list[EmailMessage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.deliveries_dispatch, "delay", broker_down)
    with celery_eager(), django_capture_on_commit_callbacks(execute=True) as kicks:
        request = decide(world)
    assert kicks  # the kick was attempted after commit, and failed

    # The decision stands; its e-mails wait in the outbox.
    with scope_of(world.alice):
        request.refresh_from_db()
    assert request.status == "approved"
    deliveries = decision_deliveries(request)
    assert len(deliveries) == 2
    assert all(delivery.status == DeliveryStatus.PENDING for delivery in deliveries)
    assert mailoutbox == []

    # Within its grace period the sweep leaves them to the kick, which may still come.
    assert tasks.deliveries_sweep.apply().get() == 0
    assert mailoutbox == []

    age_pending_deliveries()
    sent = tasks.deliveries_sweep.apply().get()
    assert sent == Delivery.objects.count()
    assert decision_mails(mailoutbox) == wholesaler_addresses(world)
    assert tasks.deliveries_sweep.apply().get() == 0  # a second sweep sends nothing more
    assert decision_mails(mailoutbox) == wholesaler_addresses(world)
    assert not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists()


def test_the_sweep_also_finds_a_fresh_delivery_when_asked_for_no_grace(
    world: World,
    django_capture_on_commit_callbacks: CaptureCallbacks,
    mailoutbox: list[EmailMessage],
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        request = decide(world)
    pending = outbox.deliveries_pending(older_than=timedelta(0))
    assert {d.pk for d in decision_deliveries(request)} <= set(pending)
    assert outbox.deliveries_pending() == []  # fresh: within the grace period
    assert outbox.deliveries_dispatch(delivery_ids=pending) == len(pending)
    assert decision_mails(mailoutbox) == wholesaler_addresses(world)


def a_pending_delivery(recipient: User, subject: str = "Top-up accordé : Revendeur") -> Delivery:
    event = AuditEvent.objects.create(
        action="guarantee_request.decided",
        object_type="underwriting.GuaranteeRequest",
        object_id="0",
    )
    notification = Notification.objects.create(
        event=event, recipient=recipient, subject=subject, link="/notifications/"
    )
    return Delivery.objects.create(
        event=event,
        recipient=recipient,
        notification=notification,
        channel=DeliveryChannel.EMAIL,
    )


def in_thread(target: Callable[[], Any], results: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            results.append(target())
        except BaseException as error:  # noqa: BLE001 - surfaced by the test's assertion
            results.append(error)
        finally:
            connections.close_all()

    return threading.Thread(target=run)


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_racing_on_the_same_delivery_send_one_email(
    world: World, mailoutbox: list[EmailMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = a_pending_delivery(world.alice.credit_manager)
    sending, release = threading.Event(), threading.Event()
    real_send = EmailMessage.send

    def slow_send(message: EmailMessage, fail_silently: bool = False) -> int:
        # The first dispatcher has claimed the delivery; its SMTP server is slow to answer.
        sending.set()
        assert release.wait(timeout=10)
        return real_send(message, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", slow_send)
    first: list[Any] = []
    second: list[Any] = []
    one = in_thread(lambda: outbox.delivery_send(delivery_id=delivery.pk), first)
    two = in_thread(lambda: outbox.delivery_send(delivery_id=delivery.pk), second)
    one.start()
    assert sending.wait(timeout=10)
    two.start()
    two.join(timeout=10)  # finds it claimed (or locked) and passes it by, without waiting
    assert not two.is_alive()
    release.set()
    one.join(timeout=10)

    assert (first, second) == ([True], [False])
    assert [message.to for message in mailoutbox] == [[world.alice.credit_manager.email]]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)
    assert outbox.delivery_send(delivery_id=delivery.pk) is False  # and stays sent


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_pending_email_once(
    world: World, mailoutbox: list[EmailMessage]
) -> None:
    recipients = [
        *world.alice.users.values(),
        *world.bob.users.values(),
        *world.staff.values(),
    ]
    ids = [a_pending_delivery(user).pk for user in recipients]
    start = threading.Barrier(2)

    def sweep() -> int:
        start.wait(timeout=10)
        return outbox.deliveries_dispatch(delivery_ids=ids)

    counts: list[Any] = []
    threads = [in_thread(sweep, counts), in_thread(sweep, counts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert all(isinstance(count, int) for count in counts), counts
    assert sum(counts) == len(ids)
    assert sorted(address for m in mailoutbox for address in m.to) == sorted(
        user.email for user in recipients
    )
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_a_second_delivery_for_the_same_event_recipient_and_channel_is_refused(
    world: World,
) -> None:
    delivery = a_pending_delivery(world.alice.credit_manager)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(
            event=delivery.event,
            recipient=delivery.recipient,
            notification=delivery.notification,
            channel=DeliveryChannel.EMAIL,
        )
    assert Delivery.objects.filter(event=delivery.event).count() == 1

"""A forgotten password: a working link sent by a worker, the same answer for every address,
and a throttle per address and per IP."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
from django.core import mail
from django.test import Client

from portal import password_reset
from portal.tasks import password_reset_send
from tests.support.world import World

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
UNKNOWN = "nobody@example.test"


@pytest.fixture(autouse=True)
def _own_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test counts in its own keys of the shared Redis cache."""
    monkeypatch.setattr(password_reset, "CACHE_PREFIX", f"test-reset-{uuid.uuid4().hex}")


@pytest.fixture
def queued() -> Iterator[mock.MagicMock]:
    with mock.patch.object(password_reset_send, "delay") as delay:
        yield delay


def _ask(
    capture: Capture, email: str, ip: str = "203.0.113.7", client: Client | None = None
) -> Response:
    with capture(execute=True):
        response = (client or Client()).post("/password-reset/", {"email": email}, REMOTE_ADDR=ip)
    return response


def _same(content: bytes) -> bytes:
    """The page without its CSRF tokens, which each session has its own of."""
    return re.sub(rb'("X-CSRFToken": |name="csrfmiddlewaretoken" value=)"[^"]+"', b"", content)


def test_the_request_sends_nothing_itself_and_queues_the_email_after_commit(
    world: World, django_capture_on_commit_callbacks: Capture, queued: mock.MagicMock
) -> None:
    user = world.alice.credit_manager
    with django_capture_on_commit_callbacks() as callbacks:
        response = Client().post("/password-reset/", {"email": user.email})
        assert mail.outbox == []
        queued.assert_not_called()
    assert response.status_code == 302
    for callback in callbacks:
        callback()
    queued.assert_called_once_with(email=user.email)
    assert mail.outbox == []


@pytest.mark.usefixtures("eager_celery")
def test_password_reset_sends_a_working_link(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    user = world.alice.credit_manager
    client = Client()
    _ask(django_capture_on_commit_callbacks, user.email, client=client)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get(f"/{path}", follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Another-long-passw0rd", "new_password2": "Another-long-passw0rd"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Another-long-passw0rd")


@pytest.mark.usefixtures("eager_celery")
def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(
    db: None, django_capture_on_commit_callbacks: Capture
) -> None:
    response = _ask(django_capture_on_commit_callbacks, UNKNOWN)
    assert response.status_code == 302
    assert mail.outbox == []


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(
    world: World, django_capture_on_commit_callbacks: Capture, queued: mock.MagicMock
) -> None:
    answers = []
    for email in [world.alice.credit_manager.email, UNKNOWN]:
        client = Client()
        response = _ask(django_capture_on_commit_callbacks, email, client=client)
        page = client.get(response["Location"]).content
        answers.append(
            (response.status_code, response["Location"], _same(response.content), _same(page))
        )
    assert answers[0] == answers[1]
    # The same work too: the account is looked up by the worker, never in the request.
    assert queued.call_count == 2


@pytest.mark.usefixtures("eager_celery")
def test_the_fourth_request_for_one_address_within_the_hour_sends_nothing(
    world: World, django_capture_on_commit_callbacks: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    user = world.alice.credit_manager
    answers = [
        _ask(django_capture_on_commit_callbacks, user.email, ip=f"203.0.113.{n}")
        for n in range(1, 4)
    ]
    assert len(mail.outbox) == 3
    with caplog.at_level(logging.WARNING, logger="portal.password_reset"):
        fourth = _ask(django_capture_on_commit_callbacks, user.email.upper(), ip="198.51.100.9")
    assert len(mail.outbox) == 3
    assert (fourth.status_code, fourth["Location"]) == (302, answers[0]["Location"])
    assert "password reset throttled" in caplog.text
    assert user.email not in caplog.text


@pytest.mark.usefixtures("eager_celery")
def test_the_eleventh_request_from_one_ip_sends_nothing(
    world: World, django_capture_on_commit_callbacks: Capture, queued: mock.MagicMock
) -> None:
    for n in range(10):
        _ask(django_capture_on_commit_callbacks, f"someone-{n}@example.test")
    assert queued.call_count == 10
    queued.side_effect = lambda **kwargs: password_reset_send.apply(kwargs=kwargs)
    eleventh = _ask(django_capture_on_commit_callbacks, world.alice.credit_manager.email)
    assert eleventh.status_code == 302
    assert queued.call_count == 10
    assert mail.outbox == []
    # Another IP is not held back by this one.
    _ask(django_capture_on_commit_callbacks, world.alice.credit_manager.email, ip="198.51.100.1")
    assert [m.to for m in mail.outbox] == [[world.alice.credit_manager.email]]


@pytest.mark.usefixtures("eager_celery")
def test_an_inactive_user_gets_nothing(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    user = world.alice.credit_manager
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = _ask(django_capture_on_commit_callbacks, user.email)
    assert response.status_code == 302
    assert mail.outbox == []


def test_a_mail_server_outage_is_retried_by_the_task(world: World) -> None:
    user = world.alice.credit_manager
    with mock.patch(
        "portal.password_reset.EmailMultiAlternatives.send", side_effect=ConnectionRefusedError
    ) as send:
        result = password_reset_send.apply(kwargs={"email": user.email})
    # Run in-process, each retry runs at once (a worker waits with backoff), until the last.
    assert send.call_count == 1 + (password_reset_send.max_retries or 0)
    assert isinstance(result.result, ConnectionRefusedError)

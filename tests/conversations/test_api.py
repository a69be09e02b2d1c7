"""Conversations through the API: a broker's tool asks a question for its client, lists its
threads, reads one with its messages and posts a reply (JSON, or multipart with attachments);
what the caller may not open is a 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conversations.models import Thread
from portal.models import Mandate, Role
from portal.timeutils import business_today
from tests.support.clients import token_client
from tests.support.scopes import insurer_scope
from tests.support.underwriting import objects_for
from tests.support.world import World

pytestmark = pytest.mark.django_db

THREADS = "/api/v1/threads/"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


def _ask(world: World, **extra: object) -> dict:
    response = token_client(world.broker_user).post(
        THREADS,
        {
            "policyholder": str(world.alice.organisation.pk),
            "subject": "Limite sur Revendeur X",
            "body": "Pouvez-vous revoir la limite ?",
            **extra,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    return dict(response.json())


def test_a_brokers_tool_asks_a_question_about_a_buyer_for_its_client(world: World) -> None:
    with insurer_scope():
        buyer = objects_for(world, world.alice).buyer
    thread = _ask(world, buyer=str(buyer.pk))

    assert thread["policyholder"] == str(world.alice.organisation.pk)
    assert thread["buyer"] == str(buyer.pk)
    assert [m["body"] for m in thread["messages"]] == ["Pouvez-vous revoir la limite ?"]
    assert thread["messages"][0]["side"] == "client"
    listed = token_client(world.alice.credit_manager).get(THREADS).json()
    assert [row["id"] for row in listed["results"]] == [thread["id"]]
    assert listed["results"][0]["unread"] is True


def test_a_broker_must_name_a_client_it_holds_a_mandate_for(world: World) -> None:
    client = token_client(world.broker_user)
    missing = client.post(THREADS, {"subject": "X", "body": "Y"}, content_type="application/json")
    assert missing.status_code == 400 and missing.json()["field"] == "policyholder"
    other = client.post(
        THREADS,
        {"policyholder": str(world.bob.organisation.pk), "subject": "X", "body": "Y"},
        content_type="application/json",
    )
    assert other.status_code == 400 and other.json()["field"] == "policyholder"
    with insurer_scope():
        assert not Thread.objects.exists()


def test_a_policyholders_user_asks_in_its_own_space(world: World) -> None:
    response = token_client(world.alice.users[Role.FINANCE]).post(
        THREADS, {"subject": "Facture", "body": "Question"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["policyholder"] == str(world.alice.organisation.pk)


def test_messages_are_posted_as_json_or_multipart_with_attachments(world: World) -> None:
    thread = _ask(world)
    url = f"{THREADS}{thread['id']}/messages/"
    arbiter = token_client(world.staff[Role.ARBITER])

    answer = arbiter.post(url, {"body": "Oui, envoyez le bilan."}, content_type="application/json")
    assert answer.status_code == 201 and answer.json()["side"] == "insurer"

    sent = token_client(world.broker_user).post(
        url,
        {"body": "Le voici", "attachments": [SimpleUploadedFile("bilan.pdf", PDF)]},
    )
    assert sent.status_code == 201
    [attachment] = sent.json()["attachments"]
    assert attachment["name"] == "bilan.pdf" and attachment["content_type"] == "application/pdf"
    refused = token_client(world.broker_user).post(
        url, {"body": "Exe", "attachments": [SimpleUploadedFile("x.pdf", b"MZ\x90\x00 exe")]}
    )
    assert refused.status_code == 400 and refused.json()["field"] == "attachments"

    detail = token_client(world.alice.credit_manager).get(f"{THREADS}{thread['id']}/").json()
    assert [m["body"] for m in detail["messages"]] == [
        "Pouvez-vous revoir la limite ?",
        "Oui, envoyez le bilan.",
        "Le voici",
    ]


def test_what_the_caller_may_not_open_is_a_404(world: World) -> None:
    thread = _ask(world)
    detail = f"{THREADS}{thread['id']}/"
    for outsider in (
        world.bob.credit_manager,
        world.staff[Role.SENIOR_ARBITER],
        world.staff[Role.ADMIN],
    ):
        client = token_client(outsider)
        assert client.get(detail).status_code == 404, outsider.username
        posted = client.post(f"{detail}messages/", {"body": "?"}, content_type="application/json")
        assert posted.status_code == 404, outsider.username
        assert client.get(THREADS).json()["count"] == 0
    # An insurer user in charge of no client cannot open a thread anywhere.
    started = token_client(world.staff[Role.SENIOR_ARBITER]).post(
        THREADS,
        {"policyholder": str(world.alice.organisation.pk), "subject": "X", "body": "Y"},
        content_type="application/json",
    )
    assert started.status_code == 404


def test_a_broker_whose_mandate_ended_loses_the_thread(world: World) -> None:
    thread = _ask(world)
    Mandate.objects.filter(broker=world.broker).update(ends_on=business_today() - timedelta(days=1))
    client = token_client(world.broker_user)
    assert client.get(f"{THREADS}{thread['id']}/").status_code == 404
    assert client.get(THREADS).json()["count"] == 0

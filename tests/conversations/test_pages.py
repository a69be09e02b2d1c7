"""Conversations through the pages: who opens a thread (alice's users, her broker while its
mandate runs, the arbiter in charge, insurer staff who joined; never bob or an insurer user not
in charge), attachments served through the scope, the arbiter's inbox, the dedicated arbiter's
page (admin only), the unread badge and the threads shown on an object's page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from conversations import services
from conversations.models import ArbiterAssignment, Message, Thread
from portal.models import Mandate, Role, User
from portal.timeutils import business_today
from tests.support.clients import client_for
from tests.support.factories import UserFactory
from tests.support.scopes import acting_as, insurer_scope
from tests.support.underwriting import objects_for
from tests.support.world import World

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


def _ask(world: World, subject: str = "Limite sur Revendeur X", by: User | None = None) -> Thread:
    actor = by or world.alice.credit_manager
    with acting_as(actor):
        return services.thread_start(
            policyholder=world.alice.organisation,
            subject=subject,
            body="Pouvez-vous revoir la limite ?",
            actor=actor,
            attachments=[services.AttachmentInput("bilan.pdf", PDF)],
        )


def _reply(thread: Thread, actor: User, body: str = "Réponse de l'arbitre") -> None:
    with acting_as(actor):
        services.message_post(thread_id=thread.pk, body=body, actor=actor)


def _detail(thread: Thread) -> str:
    return reverse("thread_detail", kwargs={"thread_id": thread.pk})


def test_the_clients_users_its_broker_and_its_arbiter_open_the_thread(world: World) -> None:
    thread = _ask(world)
    for user in (*world.alice.users.values(), world.broker_user, world.staff[Role.ARBITER]):
        response = client_for(user).get(_detail(thread))
        assert response.status_code == 200, user.username
        assert "Pouvez-vous revoir la limite ?" in response.content.decode()


def test_another_tenant_and_insurer_staff_not_in_charge_get_404(world: World) -> None:
    thread = _ask(world)
    outsiders = [
        *world.bob.users.values(),
        *world.charlie.users.values(),
        world.staff[Role.SENIOR_ARBITER],
        world.staff[Role.CLAIMS_HANDLER],
        world.staff[Role.ADMIN],
    ]
    for outsider in outsiders:
        client = client_for(outsider)
        assert client.get(_detail(thread)).status_code == 404, outsider.username
        reply = client.post(reverse("message_new", args=[thread.pk]), {"body": "?"})
        assert reply.status_code == 404, outsider.username
        listed = client.get(reverse("thread_list"))
        assert thread.subject not in listed.content.decode(), outsider.username
    with insurer_scope():
        assert Message.objects.count() == 1


def test_a_broker_loses_the_thread_the_day_its_mandate_ends(world: World) -> None:
    thread = _ask(world, by=world.broker_user)
    client = client_for(world.broker_user)
    listed = client.get(reverse("thread_list")).content.decode()
    assert thread.subject in listed and world.alice.organisation.name in listed
    Mandate.objects.filter(broker=world.broker).update(ends_on=business_today() - timedelta(days=1))

    assert client.get(_detail(thread)).status_code == 404
    assert thread.subject not in client.get(reverse("thread_list")).content.decode()


def test_insurer_staff_who_join_open_the_thread(world: World) -> None:
    thread = _ask(world)
    senior = client_for(world.staff[Role.SENIOR_ARBITER])
    found = senior.get(reverse("inbox"), {"q": "Revendeur"}).content.decode()
    assert 'data-testid="thread-join"' in found

    joined = senior.post(reverse("thread_join", args=[thread.pk]))

    assert joined.status_code == 302 and joined["Location"] == _detail(thread)
    assert senior.get(_detail(thread)).status_code == 200
    bob = client_for(world.bob.credit_manager)
    assert bob.post(reverse("thread_join", args=[thread.pk])).status_code == 404


def test_a_question_about_a_buyer_is_linked_and_shown_on_the_buyer_page(world: World) -> None:
    with insurer_scope():
        objects = objects_for(world, world.alice)
    buyer_page = reverse(
        "buyer_page",
        kwargs={"contract_id": world.alice.contract.pk, "buyer_id": objects.buyer.pk},
    )
    client = client_for(world.alice.credit_manager)
    page = client.get(buyer_page).content.decode()
    ask = re.search(r'href="([^"]+)" data-testid="ask-arbiter"', page)
    assert ask is not None
    url = ask.group(1).replace("&amp;", "&")

    form = client.get(url)
    assert form.status_code == 200
    assert objects.buyer.name in form.content.decode()  # the suggested subject
    sent = client.post(
        url,
        {
            "subject": "Limite sur cet acheteur",
            "body": "Pouvons-nous monter à 80 000 € ?",
            "buyer": str(objects.buyer.pk),
            "attachments": [
                SimpleUploadedFile("a.pdf", PDF),
                SimpleUploadedFile("b.csv", b"siren;encours\n552100554;1\n"),
            ],
        },
    )

    assert sent.status_code == 302
    with insurer_scope():
        thread = Thread.objects.get(subject="Limite sur cet acheteur")
        assert thread.buyer == objects.buyer
        assert thread.messages.get().attachments.count() == 2
    assert "Limite sur cet acheteur" in client.get(buyer_page).content.decode()
    detail = client.get(_detail(thread)).content.decode()
    assert buyer_page in detail  # the link back to what it is about


def test_a_link_the_user_cannot_see_is_a_404(world: World) -> None:
    with insurer_scope():
        bobs = objects_for(world, world.bob)
    client = client_for(world.alice.credit_manager)
    assert client.get(reverse("thread_new"), {"request": str(bobs.request.pk)}).status_code == 404
    assert client.get(reverse("thread_new"), {"claim": "not-a-uuid"}).status_code == 404
    with insurer_scope():
        alices = objects_for(world, world.alice)
    assert client.get(reverse("thread_new"), {"request": str(alices.request.pk)}).status_code == 200


def test_a_broker_chooses_the_client_among_its_current_mandates(world: World) -> None:
    client = client_for(world.broker_user)
    form = client.get(reverse("thread_new")).content.decode()
    assert world.alice.organisation.name in form and world.bob.organisation.name not in form
    refused = client.post(
        reverse("thread_new"),
        {"policyholder": str(world.bob.organisation.pk), "subject": "X", "body": "Y"},
    )
    assert refused.status_code == 400
    sent = client.post(
        reverse("thread_new"),
        {"policyholder": str(world.alice.organisation.pk), "subject": "X", "body": "Y"},
    )
    assert sent.status_code == 302
    with insurer_scope():
        assert Thread.objects.get().policyholder == world.alice.organisation


def test_a_refused_attachment_is_named_on_the_form(world: World) -> None:
    thread = _ask(world)
    response = client_for(world.alice.credit_manager).post(
        reverse("message_new", args=[thread.pk]),
        {"body": "Voici", "attachments": [SimpleUploadedFile("virus.pdf", b"MZ\x90\x00 exe")]},
    )
    assert response.status_code == 400
    assert "virus.pdf" in response.content.decode()


def test_attachments_download_through_the_scope_only(world: World) -> None:
    thread = _ask(world)
    with insurer_scope():
        attachment = thread.messages.get().attachments.get()
    url = reverse(
        "attachment_download", kwargs={"thread_id": thread.pk, "attachment_id": attachment.pk}
    )

    response = client_for(world.broker_user).get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "bilan.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == PDF
    for outsider in (world.bob.credit_manager, world.staff[Role.SENIOR_ARBITER]):
        assert client_for(outsider).get(url).status_code == 404
    other = _ask(world, subject="Autre")
    wrong_thread = reverse(
        "attachment_download", kwargs={"thread_id": other.pk, "attachment_id": attachment.pk}
    )
    assert client_for(world.alice.credit_manager).get(wrong_thread).status_code == 404


def test_opening_the_thread_marks_it_read_and_shows_who_read_each_message(world: World) -> None:
    thread = _ask(world)
    arbiter = world.staff[Role.ARBITER]
    manager = client_for(world.alice.credit_manager)
    page = manager.get(_detail(thread)).content.decode()
    assert "Pas encore lu par les autres participants" in page

    client_for(arbiter).get(_detail(thread))

    page = manager.get(_detail(thread)).content.decode()
    assert f"Lu par {arbiter}" in page


def test_the_unread_badge_counts_threads_and_clears_when_read(world: World) -> None:
    thread = _ask(world)
    _reply(thread, world.staff[Role.ARBITER])
    manager = client_for(world.alice.credit_manager)
    home = manager.get(reverse("thread_list")).content.decode()
    assert re.search(r'data-testid="unread-threads">1<', home)
    assert 'data-testid="thread-unread"' in home

    manager.get(_detail(thread))

    home = manager.get(reverse("thread_list")).content.decode()
    assert 'data-testid="unread-threads"' not in home
    assert 'data-testid="thread-unread"' not in home


def test_the_inbox_lists_oldest_unanswered_first_with_the_wait_and_overdue(world: World) -> None:
    arbiter = world.staff[Role.ARBITER]
    old = _ask(world, subject="Ancienne question")
    with insurer_scope():
        Thread.objects.filter(pk=old.pk).update(waiting_since=timezone.now() - timedelta(hours=30))
    _ask(world, subject="Nouvelle question")
    answered = _ask(world, subject="Déjà répondu")
    _reply(answered, arbiter)

    page = client_for(arbiter).get(reverse("inbox")).content.decode()

    subjects = re.findall(r'data-testid="inbox-open">([^<]+)<', page)
    assert subjects == ["Ancienne question", "Nouvelle question", "Déjà répondu"]
    assert "il y a 30 h" in page
    assert page.count('data-testid="overdue"') == 1
    for role in (Role.CREDIT_MANAGER,):
        assert client_for(world.alice.users[role]).get(reverse("inbox")).status_code == 404
    assert client_for(world.broker_user).get(reverse("inbox")).status_code == 404
    assert client_for(world.staff[Role.CLAIMS_HANDLER]).get(reverse("inbox")).status_code == 404


def test_the_empty_list_names_the_dedicated_arbiter(world: World) -> None:
    page = client_for(world.alice.credit_manager).get(reverse("thread_list")).content.decode()
    assert f"Votre arbitre dédié pour {world.alice.organisation.name} est" in page
    assert str(world.staff[Role.ARBITER]) in page


def test_only_the_admin_reassigns_a_client_and_the_inbox_moves(world: World) -> None:
    url = reverse("client_arbiter", args=[world.alice.organisation.pk])
    for role in (Role.ARBITER, Role.SENIOR_ARBITER):
        assert client_for(world.staff[role]).get(url).status_code == 404
    assert client_for(world.alice.users[Role.ORG_ADMIN]).get(url).status_code == 404
    thread = _ask(world)
    second = UserFactory.create(organisation=world.insurer, role=Role.ARBITER)
    admin = client_for(world.staff[Role.ADMIN])
    detail = admin.get(reverse("policyholder_detail", args=[world.alice.organisation.pk]))
    assert url in detail.content.decode()

    moved = admin.post(
        url, {"action": "assign", "assign-arbiter": second.pk, "assign-reason": "Portefeuille"}
    )

    assert moved.status_code == 302
    page = admin.get(url).content.decode()
    assert "Portefeuille" in page and page.count('data-testid="history-row"') == 2
    assert client_for(second).get(_detail(thread)).status_code == 200
    assert client_for(world.staff[Role.ARBITER]).get(_detail(thread)).status_code == 404


def test_the_admin_sets_and_ends_a_stand_in(world: World) -> None:
    url = reverse("client_arbiter", args=[world.alice.organisation.pk])
    admin = client_for(world.staff[Role.ADMIN])
    senior = world.staff[Role.SENIOR_ARBITER]
    thread = _ask(world)
    now = timezone.localtime()
    refused = admin.post(
        url,
        {
            "action": "stand_in",
            "stand_in-arbiter": senior.pk,
            "stand_in-starts_at": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "stand_in-ends_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert refused.status_code == 400
    assert "La fin doit suivre le début." in refused.content.decode()

    set_ = admin.post(
        url,
        {
            "action": "stand_in",
            "stand_in-arbiter": senior.pk,
            "stand_in-starts_at": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "stand_in-ends_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
            "stand_in-reason": "Congés",
        },
    )
    assert set_.status_code == 302
    assert client_for(senior).get(_detail(thread)).status_code == 200

    assert admin.post(url, {"action": "end_stand_in"}).status_code == 302
    assert client_for(senior).get(_detail(thread)).status_code == 404
    with insurer_scope():
        assert ArbiterAssignment.objects.get().ends_at is not None


def test_the_header_badge_counts_the_same_threads_as_the_selectors(world: World) -> None:
    from conversations import selectors

    thread = _ask(world)
    _ask(world, subject="Deuxième")
    senior, admin = world.staff[Role.SENIOR_ARBITER], world.staff[Role.ADMIN]
    stand_in = UserFactory.create(organisation=world.insurer, role=Role.ARBITER)
    with acting_as(senior):
        services.thread_join(thread_id=thread.pk, actor=senior)
    with acting_as(admin):
        services.stand_in_set(
            policyholder=world.alice.organisation,
            arbiter=stand_in,
            starts_at=timezone.now() - timedelta(minutes=1),
            ends_at=None,
            actor=admin,
        )
    _reply(thread, world.staff[Role.ARBITER])
    people = [
        world.alice.credit_manager,
        world.broker_user,
        world.bob.credit_manager,
        world.staff[Role.ARBITER],
        senior,
        stand_in,
        admin,
    ]
    counts = {}
    for user in people:
        with acting_as(user):
            counts[user.username] = (selectors.unread_badge(user), selectors.unread_count(user))
    assert all(badge == count for badge, count in counts.values()), counts
    assert [counts[user.username][0] for user in people] == [1, 2, 0, 1, 1, 2, 0]

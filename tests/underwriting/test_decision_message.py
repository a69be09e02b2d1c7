"""A decision's internal note stays with the insurer (DESIGN §4): the wholesaler, its broker, its
e-mails and its notifications get the arbiter's message to the client, never the note."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import reverse

from portal.errors import RuleViolation
from portal.models import Notification, Role, User
from portal.timeutils import business_today
from tests.support.billing import celery_eager
from tests.support.clients import client_for, token_client
from tests.support.factories import BuyerFactory
from tests.support.presentation import fr_eur
from tests.support.scopes import acting_as, scope_of
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting import services
from underwriting.models import Buyer, GuaranteeRequest, RequestStatus

NOTE = "Bilan 2025 dégradé"
MESSAGE = "Accord sur la base de vos encours"


@pytest.fixture
def buyer() -> Buyer:
    return BuyerFactory.create(name="Matériaux Bernard")


@pytest.fixture
def decided(
    world: World,
    arbiter: User,
    buyer: Buyer,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> GuaranteeRequest:
    """alice's request, approved from the arbiter's page with a note and a message; the
    e-mails go out after commit."""
    request = submit(world.alice, buyer)
    with celery_eager(), django_capture_on_commit_callbacks(execute=True):
        answer = client_for(arbiter).post(
            reverse("arbiter_request", args=[request.pk]),
            {
                "outcome": "approved",
                "amount": "40000",
                "valid_from": business_today().isoformat(),
                "valid_until": "",
                "rationale": NOTE,
                "client_message": MESSAGE,
            },
        )
    assert answer.status_code == 302
    with scope_of(world.alice):
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED
        assert (request.decision.rationale, request.decision.client_message) == (NOTE, MESSAGE)
    return request


def outside_the_insurer(world: World) -> dict[str, User]:
    return {
        "credit_manager": world.alice.credit_manager,
        "org_admin": world.alice.users[Role.ORG_ADMIN],
        "finance": world.alice.finance,
        "broker": world.broker_user,
    }


def page(client: Client, url: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, url
    return answer.content.decode()


@pytest.mark.parametrize("who", ["credit_manager", "org_admin", "finance", "broker"])
def test_the_wholesaler_s_request_page_shows_the_message_and_never_the_note(
    world: World, decided: GuaranteeRequest, who: str
) -> None:
    html = page(
        client_for(outside_the_insurer(world)[who]), reverse("request_detail", args=[decided.pk])
    )
    assert MESSAGE in html
    assert NOTE not in html


@pytest.mark.parametrize("who", ["credit_manager", "broker"])
def test_the_wholesaler_s_buyer_page_never_shows_the_note(
    world: World, decided: GuaranteeRequest, buyer: Buyer, who: str
) -> None:
    """The guarantee history lists the period the decision opened."""
    html = page(
        client_for(outside_the_insurer(world)[who]),
        reverse("buyer_page", args=[world.alice.contract.pk, buyer.pk]),
    )
    assert fr_eur(40000) in html
    assert NOTE not in html


def test_the_arbiter_s_pages_show_both(
    world: World, decided: GuaranteeRequest, arbiter: User
) -> None:
    html = page(client_for(arbiter), reverse("arbiter_request", args=[decided.pk]))
    assert NOTE in html and MESSAGE in html
    html = page(client_for(arbiter), reverse("request_detail", args=[decided.pk]))
    assert NOTE in html and MESSAGE in html


def test_the_api_gives_the_wholesaler_the_message_and_the_arbiter_both(
    world: World, decided: GuaranteeRequest, arbiter: User
) -> None:
    url = f"/api/v1/guarantee-requests/{decided.pk}/"
    for user in (world.alice.credit_manager, world.broker_user):
        answer = token_client(user).get(url)
        assert answer.status_code == 200
        decision = answer.json()["decision"]
        assert decision["client_message"] == MESSAGE
        assert "rationale" not in decision
        assert NOTE not in answer.content.decode()
    as_arbiter = token_client(arbiter).get(url).json()["decision"]
    assert (as_arbiter["rationale"], as_arbiter["client_message"]) == (NOTE, MESSAGE)


def test_the_wholesaler_s_guarantees_in_the_api_never_carry_the_note(
    world: World, decided: GuaranteeRequest, buyer: Buyer
) -> None:
    answer = token_client(world.alice.credit_manager).get(f"/api/v1/guarantees/?buyer={buyer.pk}")
    assert answer.status_code == 200
    assert answer.json()["count"] == 1
    assert NOTE not in answer.content.decode()


def test_the_wholesaler_s_emails_and_notifications_carry_the_message_never_the_note(
    world: World, decided: GuaranteeRequest, mailoutbox: list[EmailMessage]
) -> None:
    wholesaler = {world.alice.credit_manager.email, world.alice.users[Role.ORG_ADMIN].email}
    told = Notification.objects.get(
        recipient=world.alice.credit_manager, event__action="guarantee_request.decided"
    )
    decision_mails = [m for m in mailoutbox if m.subject == told.subject]
    assert {address for m in decision_mails for address in m.to} == wholesaler
    for message in decision_mails:
        assert MESSAGE in message.body
    insurer = {user.email for user in world.staff.values()}
    for message in mailoutbox:
        if set(message.to) - insurer:
            assert NOTE not in message.subject and NOTE not in message.body, message.to
    for user in outside_the_insurer(world).values():
        for notification in Notification.objects.filter(recipient=user):
            assert NOTE not in notification.subject and NOTE not in notification.body
        html = page(client_for(user), reverse("notifications"))
        assert NOTE not in html
    received = Notification.objects.get(
        recipient=world.alice.credit_manager, event__action="guarantee_request.decided"
    )
    assert received.body == MESSAGE


def test_refusing_still_requires_an_internal_note(
    world: World, arbiter: User, buyer: Buyer
) -> None:
    request = submit(world.alice, buyer)
    with acting_as(arbiter), pytest.raises(RuleViolation) as refused:
        services.guarantee_request_decide(
            request_id=request.pk, outcome="refused", actor=arbiter, client_message=MESSAGE
        )
    assert refused.value.field == "rationale"

    answer = client_for(arbiter).post(
        reverse("arbiter_request", args=[request.pk]),
        {
            "outcome": "refused",
            "amount": "",
            "valid_from": business_today().isoformat(),
            "rationale": "",
            "client_message": "Nous ne pouvons pas vous suivre sur cet acheteur.",
        },
    )
    assert answer.status_code == 200
    assert answer.context["form"].errors["rationale"]

    api = token_client(arbiter).post(
        f"/api/v1/guarantee-requests/{request.pk}/decide/",
        {"outcome": "refused", "client_message": "Nous ne pouvons pas vous suivre."},
        content_type="application/json",
    )
    assert api.status_code == 400
    assert api.json()["field"] == "rationale"
    with scope_of(world.alice):
        request.refresh_from_db()
        assert request.status == RequestStatus.OPEN

    # With a note, the refusal goes through and the wholesaler reads only the message.
    with acting_as(arbiter):
        services.guarantee_request_decide(
            request_id=request.pk,
            outcome="refused",
            actor=arbiter,
            rationale=NOTE,
            client_message="Nous ne pouvons pas vous suivre sur cet acheteur.",
        )
    html = page(
        client_for(world.alice.credit_manager), reverse("request_detail", args=[request.pk])
    )
    assert "Nous ne pouvons pas vous suivre sur cet acheteur." in html
    assert NOTE not in html

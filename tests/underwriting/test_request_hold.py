"""A request held for collective proceedings on its buyer, in the back office and beyond: the
badge, the decision form that may only refuse, resuming (page and API), and what the
policyholder reads."""

from __future__ import annotations

from html import unescape

import pytest

from portal.models import Role, User
from portal.timeutils import business_today
from tests.support.clients import client_for, token_client
from tests.support.factories import BuyerFactory
from tests.support.monitoring import SAFEGUARD, imported, json_lines, notice
from tests.support.scopes import insurer_scope
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import GuaranteeRequest, RequestStatus
from underwriting.serializers import GuaranteeRequestSerializer

pytestmark = pytest.mark.django_db

HELD_FOR_THE_CLIENT = "Suspendue : procédure collective sur l'acheteur"


def _held(world: World) -> GuaranteeRequest:
    """alice's open request on a buyer whose safeguard the arbiter has just imported."""
    buyer = BuyerFactory.create(name="Revendeur Fragile")
    request = submit(world.alice, buyer, top_up="30000")
    imported(world.staff[Role.ARBITER], json_lines(notice(siren=buyer.siren, nature=SAFEGUARD)))
    with insurer_scope():
        request.refresh_from_db()
    assert request.held_since is not None
    return request


def _fresh(request: GuaranteeRequest) -> GuaranteeRequest:
    with insurer_scope():
        return GuaranteeRequest.objects.get(pk=request.pk)


def _deciders(world: World) -> list[User]:
    return [world.staff[role] for role in (Role.ARBITER, Role.SENIOR_ARBITER, Role.ADMIN)]


def test_the_arbiter_page_shows_the_hold_and_a_resume_button_to_deciders(world: World) -> None:
    request = _held(world)
    url = f"/backoffice/requests/{request.pk}/"
    for user in _deciders(world):
        page = client_for(user).get(url)
        assert page.status_code == 200, user.username
        text = page.content.decode()
        assert 'data-testid="request-held"' in text and "Suspendue" in text
        assert "procédure collective ouverte" in text  # the reason
        assert request.held_since.astimezone().strftime("%d/%m/%Y") in text  # type: ignore[union-attr]
        assert 'data-testid="resume"' in text and "Reprendre la demande" in text
        assert 'data-testid="held-decision-note"' in text
        # Only a refusal can be chosen while the request is held.
        choices = page.context["form"].fields["outcome"].choices
        assert [value for value, _label in choices] == ["refused"]
    for user in (world.staff[Role.CLAIMS_HANDLER], world.staff[Role.FINANCE_OPS]):
        assert client_for(user).get(url).status_code == 404


def test_a_request_that_is_not_held_shows_no_badge_and_no_resume(world: World) -> None:
    request = submit(world.alice, BuyerFactory.create())
    text = client_for(world.staff[Role.ARBITER]).get(f"/backoffice/requests/{request.pk}/")
    body = text.content.decode()
    assert 'data-testid="request-held"' not in body
    assert 'data-testid="resume"' not in body
    assert len(text.context["form"].fields["outcome"].choices) == 3


def test_the_queue_marks_held_requests(world: World) -> None:
    held = _held(world)
    other = submit(world.bob, BuyerFactory.create())
    arbiter = world.staff[Role.ARBITER]
    page = client_for(arbiter).get("/backoffice/queue/", {"arbiter": "all"})
    rows = page.content.decode().split("<tr")
    [held_row] = [row for row in rows if str(held.pk) in row]
    [other_row] = [row for row in rows if str(other.pk) in row]
    assert 'data-testid="queue-held"' in held_row
    assert 'data-testid="queue-held"' not in other_row


def test_a_held_request_can_be_refused_from_the_page_not_approved(world: World) -> None:
    request = _held(world)
    senior = world.staff[Role.SENIOR_ARBITER]
    url = f"/backoffice/requests/{request.pk}/"
    approved = client_for(senior).post(
        url, {"outcome": "approved", "amount": "30000", "valid_from": business_today()}
    )
    assert approved.status_code == 200
    assert "outcome" in approved.context["form"].errors
    assert _fresh(request).status == RequestStatus.OPEN
    refused = client_for(senior).post(
        url,
        {
            "outcome": "refused",
            "valid_from": business_today(),
            "rationale": "Sauvegarde ouverte",
        },
    )
    assert refused.status_code == 302
    assert _fresh(request).status == RequestStatus.REFUSED


def test_resuming_from_the_page_lets_the_arbiter_decide_again(world: World) -> None:
    request = _held(world)
    senior = world.staff[Role.SENIOR_ARBITER]
    client = client_for(senior)

    response = client.post(f"/backoffice/requests/{request.pk}/resume/", {"note": "Plan viable"})

    assert response.status_code == 302
    assert response["Location"] == f"/backoffice/requests/{request.pk}/"
    assert _fresh(request).held_since is None
    page = client.get(response["Location"])
    text = page.content.decode()
    assert "Demande reprise" in text
    assert 'data-testid="request-held"' not in text
    assert len(page.context["form"].fields["outcome"].choices) == 3
    decided = client.post(
        f"/backoffice/requests/{request.pk}/",
        {"outcome": "approved", "amount": "30000", "valid_from": business_today()},
    )
    assert decided.status_code == 302
    assert _fresh(request).status == RequestStatus.APPROVED
    # Resuming again: nothing is held any more, said as an error, not a failure.
    again = client.post(f"/backoffice/requests/{request.pk}/resume/", follow=True)
    assert "n&#x27;est pas suspendue" in again.content.decode()


def test_only_deciders_may_resume(world: World) -> None:
    request = _held(world)
    url = f"/backoffice/requests/{request.pk}/resume/"
    refused = [
        *world.alice.users.values(),
        world.broker_user,
        world.staff[Role.CLAIMS_HANDLER],
        world.staff[Role.FINANCE_OPS],
        *world.bob.users.values(),
    ]
    for user in refused:
        assert client_for(user).post(url).status_code == 404, user.username
    assert _fresh(request).held_since is not None
    assert client_for(world.staff[Role.ARBITER]).get(url).status_code == 405


def test_the_policyholder_reads_that_its_request_is_held(world: World) -> None:
    request = _held(world)
    for user in (world.alice.credit_manager, world.alice.finance, world.broker_user):
        client = client_for(user)
        detail = client.get(f"/requests/{request.pk}/").content.decode()
        assert HELD_FOR_THE_CLIENT in detail
        assert 'data-testid="resume"' not in detail
        # The list's cells are escaped by the table library (l&#x27;acheteur): read the text.
        listing = unescape(client.get("/requests/").content.decode())
        assert HELD_FOR_THE_CLIENT in listing
    assert client_for(world.bob.credit_manager).get(f"/requests/{request.pk}/").status_code == 404


def test_the_api_shows_the_hold_and_resumes(world: World) -> None:
    request = _held(world)
    url = f"/api/v1/guarantee-requests/{request.pk}/"
    shown = token_client(world.alice.credit_manager).get(url).json()
    assert shown["held_since"] is not None
    assert shown["hold_reason"] == "procédure collective ouverte"
    resume = f"{url}resume/"
    for user in (world.alice.credit_manager, world.broker_user, world.staff[Role.FINANCE_OPS]):
        answer = token_client(user).post(resume, {}, content_type="application/json")
        assert answer.status_code == 404, user.username
    arbiter = token_client(world.staff[Role.ARBITER])
    answer = arbiter.post(resume, {"note": "Plan viable"}, content_type="application/json")
    assert answer.status_code == 200
    assert answer.json()["held_since"] is None and answer.json()["hold_reason"] == ""
    again = arbiter.post(resume, {}, content_type="application/json")
    assert again.status_code == 409
    # Read-only: only the monitoring sweep holds a request, only `resume` releases it.
    fields = GuaranteeRequestSerializer().fields
    assert fields["held_since"].read_only and fields["hold_reason"].read_only

"""An organisation's two-factor requirement: its admin sets it (a security event); its users
enrol at their next request; nobody else may open the page; the insurer admin uses the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal import policy
from portal.models import AuditEvent, Organisation
from portal.security import SecurityEvent
from tests.support.clients import client_for, unverified_client
from tests.support.roles import ROLES, user_for
from tests.support.world import World

URL = "/organisation/two-factor/"


def test_the_route_is_where_the_menu_points() -> None:
    assert reverse("organisation_two_factor") == URL


def test_the_org_admin_requires_two_factor_of_every_user(world: World) -> None:
    admin = world.alice.users["org_admin"]
    client = client_for(admin)
    page = client.get(URL)
    assert page.status_code == 200
    assert world.alice.credit_manager.email in page.content.decode()
    response = client.post(URL, {"two_factor_required": "on"})
    assert response.status_code == 302
    organisation = Organisation.objects.get(pk=world.alice.organisation.pk)
    assert organisation.two_factor_required
    event = AuditEvent.objects.get(action=SecurityEvent.TWO_FACTOR_REQUIRED.value)
    assert event.actor_id == admin.pk
    assert event.data["organisation_id"] == str(organisation.pk)
    assert event.data["required"] is True
    # Her users, the admin included, now enrol before anything else.
    after = unverified_client(world.alice.credit_manager).get("/portal/")
    assert after["Location"].startswith(reverse("two_factor"))
    assert client.get("/portal/")["Location"].startswith(reverse("two_factor"))
    # Saving the same answer again records nothing.
    client_for(admin).post(URL, {"two_factor_required": "on"})
    assert AuditEvent.objects.filter(action=SecurityEvent.TWO_FACTOR_REQUIRED.value).count() == 1


def test_the_org_admin_makes_it_optional_again(world: World) -> None:
    Organisation.objects.filter(pk=world.alice.organisation.pk).update(two_factor_required=True)
    client = client_for(world.alice.users["org_admin"])
    assert client.post(URL, {}).status_code == 302
    assert not Organisation.objects.get(pk=world.alice.organisation.pk).two_factor_required
    assert unverified_client(world.alice.finance).get("/portal/").status_code == 200


@pytest.mark.parametrize("role", [role for role in ROLES if role != "org_admin"])
def test_nobody_else_opens_the_page(world: World, role: str) -> None:
    client = client_for(user_for(world, role))
    for response in (client.get(URL), client.post(URL, {"two_factor_required": "on"})):
        if role == "inactive":
            assert response.status_code == 302 and "/login/" in response["Location"]
        else:
            assert response.status_code == 404, role
    assert not Organisation.objects.filter(two_factor_required=True).exists()


def test_the_menu_shows_the_page_to_the_org_admin_only(world: World) -> None:
    link = f'href="{URL}"'
    assert link in client_for(world.alice.users["org_admin"]).get("/portal/").content.decode()
    assert link not in client_for(world.alice.credit_manager).get("/portal/").content.decode()


def test_the_policy_answers_for_its_own_organisation_only(world: World) -> None:
    admin = world.alice.users["org_admin"]
    assert policy.can_set_two_factor_policy(admin, world.alice.organisation)
    assert not policy.can_set_two_factor_policy(admin, world.bob.organisation)
    assert policy.can_set_two_factor_policy(world.staff["admin"], world.bob.organisation)
    assert policy.can_set_two_factor_policy(world.staff["admin"], world.broker)
    assert not policy.can_set_two_factor_policy(world.staff["arbiter"], world.bob.organisation)
    assert not policy.can_set_two_factor_policy(world.broker_user, world.broker)


def test_who_must_use_two_factor(world: World) -> None:
    assert all(policy.two_factor_required(user) for user in world.staff.values())
    assert not policy.two_factor_required(world.alice.credit_manager)
    assert not policy.two_factor_required(world.broker_user)
    Organisation.objects.filter(pk=world.broker.pk).update(two_factor_required=True)
    world.broker_user.refresh_from_db()
    assert policy.two_factor_required(
        type(world.broker_user).objects.select_related("organisation").get(pk=world.broker_user.pk)
    )


def test_the_insurer_admin_sets_it_in_the_django_admin_and_it_is_recorded(world: World) -> None:
    admin = world.staff["admin"]
    client = client_for(admin)
    url = reverse("admin:portal_organisation_change", args=[world.broker.pk])
    form = client.get(url)
    assert form.status_code == 200
    assert 'name="two_factor_required"' in form.content.decode()
    organisation = world.broker
    response = client.post(
        url,
        {
            "kind": organisation.kind,
            "name": organisation.name,
            "siren": organisation.siren,
            "address": organisation.address,
            "two_factor_required": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Organisation.objects.get(pk=organisation.pk).two_factor_required
    event = AuditEvent.objects.get(action=SecurityEvent.TWO_FACTOR_REQUIRED.value)
    assert event.actor_id == admin.pk

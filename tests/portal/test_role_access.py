"""Each role reaches its own pages only: back office, finance, broker clients, Django admin."""

from __future__ import annotations

from portal.models import Role
from tests.support.clients import client_for
from tests.support.world import World


def test_a_wholesaler_cannot_open_the_back_office_or_finance_pages(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    assert client.get("/backoffice/").status_code == 404
    assert client.get("/finance/").status_code == 404
    assert client.get("/broker/").status_code == 404


def test_the_broker_client_list_shows_only_mandated_policyholders(world: World) -> None:
    page = client_for(world.broker_user).get("/broker/").content.decode()
    assert world.alice.organisation.name in page
    assert world.bob.organisation.name not in page


def test_django_admin_is_for_insurer_superusers_only(world: World) -> None:
    assert client_for(world.staff[Role.ADMIN]).get("/admin/").status_code == 200
    assert client_for(world.staff[Role.ARBITER]).get("/admin/").status_code == 302
    tenant_superuser = world.alice.users[Role.ORG_ADMIN]
    tenant_superuser.is_superuser = tenant_superuser.is_staff = True
    tenant_superuser.save(update_fields=["is_superuser", "is_staff"])
    assert client_for(tenant_superuser).get("/admin/").status_code == 302

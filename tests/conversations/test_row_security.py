"""Conversations as production runs them: an ordinary database role, row-level security in
force. Past the application, a tenant's raw SQL sees its own threads and messages only."""

from __future__ import annotations

from django.db import connection

from conversations import services
from portal.models import Role
from tests.support.rls import ordinary_role
from tests.support.scopes import acting_as, scope_of
from tests.support.world import World


def test_threads_and_messages_stay_within_their_tenant(world: World) -> None:
    manager, arbiter = world.alice.credit_manager, world.staff[Role.ARBITER]
    with ordinary_role():
        with acting_as(manager):
            thread = services.thread_start(
                policyholder=world.alice.organisation,
                subject="Question",
                body="Bonjour",
                actor=manager,
            )
        with acting_as(arbiter):
            services.message_post(thread_id=thread.pk, body="Réponse", actor=arbiter)
        for tenant, expected in ((world.alice, (1, 2)), (world.bob, (0, 0))):
            with scope_of(tenant), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT (SELECT count(*) FROM conversations_thread),"
                    " (SELECT count(*) FROM conversations_message)"
                )
                assert cursor.fetchone() == expected

"""Every kind of user DESIGN §3 speaks of, by a short name: alice's three policyholder roles,
the broker mandated for alice, the five insurer roles, plus an inactive user and a user with no
organisation, who may do nothing. Tests parametrized by these names read as the table does."""

from __future__ import annotations

from typing import cast

from portal.models import Role, User
from tests.support.factories import UserFactory
from tests.support.world import World

POLICYHOLDER_ROLES = ("credit_manager", "finance", "org_admin")
INSURER_ROLES = ("arbiter", "senior_arbiter", "claims_handler", "finance_ops", "admin")
NOBODY = ("inactive", "no_organisation")
ROLES: tuple[str, ...] = (*POLICYHOLDER_ROLES, "broker", *INSURER_ROLES, *NOBODY)


def user_for(world: World, role: str) -> User:
    """The user playing `role` against alice's objects."""
    if role in POLICYHOLDER_ROLES:
        return world.alice.users[role]
    if role == "broker":
        return world.broker_user
    if role in INSURER_ROLES:
        return world.staff[role]
    if role == "inactive":
        # An org admin of alice who has left: every right of the role, but not active.
        user = cast(
            User,
            UserFactory(
                username="left@alice.test",
                organisation=world.alice.organisation,
                role=Role.ORG_ADMIN,
                is_active=False,
            ),
        )
        return user
    if role == "no_organisation":
        orphan = cast(
            User,
            UserFactory(
                username="orphan@nowhere.test", organisation=None, role=Role.CREDIT_MANAGER
            ),
        )
        return orphan
    raise LookupError(role)

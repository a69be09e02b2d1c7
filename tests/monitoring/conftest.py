"""Fixtures only: what they build comes from `tests.support`."""

from __future__ import annotations

import pytest

from portal.models import Role, User
from tests.support.world import World


@pytest.fixture
def arbiter(world: World) -> User:
    return world.staff[Role.ARBITER]

"""Fixtures shared by the underwriting tests."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from portal.models import User
from tests.support.scopes import acting_as
from tests.support.world import World


@pytest.fixture
def acting_as_the_insurer(world: World) -> Iterator[None]:
    """The arbiters act here; `submit` enters the wholesaler's own scope.

    Not autouse: the modules that want it say `pytestmark = pytest.mark.usefixtures(...)`."""
    with acting_as(world.staff["arbiter"]):
        yield


@pytest.fixture
def arbiter(world: World) -> User:
    """The insurer's arbiter, with an authority of 50 000."""
    user = world.staff["arbiter"]
    user.authority_amount = Decimal("50000")
    user.save(update_fields=["authority_amount"])
    return user

"""Issue 15: a second `make bench` hung in its clean-up, each of 100 000 bench buyers' deletion
checking the guarantees' foreign key through the GiST exclusion index. The clean-up deletes
them with the references checked once, set-based; the constraints are all back afterwards, and
a buyer still referenced is refused as before."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, connection
from django_scopes import scopes_disabled

from benchmarks.database import references_checked_once
from tests.support.billing import guarantee
from tests.support.factories import BuyerFactory
from tests.support.world import World
from underwriting.models import Buyer

pytestmark = pytest.mark.django_db(transaction=True)


def references_to_buyers() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = %s::regclass ORDER BY 1, 2",
            [Buyer._meta.db_table],
        )
        return cursor.fetchall()


def test_buyers_deleted_with_their_references_checked_once(world: World) -> None:
    before = references_to_buyers()
    assert len(before) >= 3  # guarantees, requests, invoice lines at least
    unused = [BuyerFactory.create() for _ in range(3)]
    used = BuyerFactory.create()
    guarantee(world.alice.contract, used, "40000", date(2026, 1, 1))
    with scopes_disabled():
        with references_checked_once(Buyer._meta.db_table):
            Buyer.objects.filter(pk__in=[buyer.pk for buyer in unused]).delete()
        assert not Buyer.objects.filter(pk__in=[buyer.pk for buyer in unused]).exists()
        assert references_to_buyers() == before
        # A buyer with a guarantee: the constraint, added back, refuses it; nothing is deleted.
        with pytest.raises(IntegrityError):
            with references_checked_once(Buyer._meta.db_table), connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {Buyer._meta.db_table} WHERE id = %s",  # noqa: S608
                    [used.pk],
                )
        assert Buyer.objects.filter(pk=used.pk).exists()
    assert references_to_buyers() == before

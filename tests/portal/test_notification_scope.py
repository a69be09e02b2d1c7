"""Notifications are in the tenant scope like everything else: after a broker's mandate ends,
its old notifications about that client (buyers, amounts) are no longer shown, nor counted."""

from __future__ import annotations

from datetime import timedelta

from portal.models import Mandate, Notification
from portal.timeutils import business_today
from tests.support.claims import covered_buyer, declared, recently_due, unpaid
from tests.support.clients import client_for
from tests.support.world import World


def test_a_broker_whose_mandate_ended_no_longer_reads_that_clients_notifications(
    world: World,
) -> None:
    buyer = covered_buyer(world.alice)
    declared(world.alice, buyer, unpaid("F-7741", "18000", delivered=recently_due()))
    about_alice = Notification.objects.filter(recipient=world.broker_user)
    assert about_alice.count() == 1
    assert about_alice.get().policyholder_id == world.alice.organisation.pk
    broker = client_for(world.broker_user)
    page = broker.get("/notifications/").content.decode()
    assert buyer.name in page

    Mandate.objects.filter(broker=world.broker).update(ends_on=business_today() - timedelta(days=1))

    page = broker.get("/notifications/").content.decode()
    assert buyer.name not in page
    assert 'data-testid="unread-count"' not in broker.get("/broker/").content.decode()
    # The client's own users still read it.
    manager_page = client_for(world.alice.credit_manager).get("/notifications/").content.decode()
    assert buyer.name in manager_page

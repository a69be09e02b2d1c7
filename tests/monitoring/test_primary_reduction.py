"""A wholesaler reporting a lower primary limit raises an alert for every party exposed to the
buyer, without naming the reporter or its amounts to the others; a higher one raises nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange

from monitoring.models import Alert
from portal.models import Notification, Role
from portal.timeutils import business_today
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.scopes import acting_as
from tests.support.world import World
from underwriting import services
from underwriting.models import Buyer

pytestmark = pytest.mark.django_db


def _report(world: World, buyer: Buyer, amount: str) -> None:
    actor = world.alice.credit_manager
    with acting_as(actor):
        services.guarantee_primary_report(
            contract=world.alice.contract,
            buyer=buyer,
            primary_amount=Decimal(amount),
            effective_on=business_today(),
            actor=actor,
        )


def test_a_reported_reduction_alerts_every_exposed_party(world: World) -> None:
    buyer = BuyerFactory.create()
    for tenant in (world.alice, world.bob):
        GuaranteeFactory.create(
            contract=tenant.contract,
            buyer=buyer,
            primary_amount=Decimal("100000"),
            period=DateRange(date(2026, 1, 1), None, "[)"),
        )
    Notification.objects.all().delete()

    _report(world, buyer, "60000")

    [alert] = Alert.objects.all()
    assert alert.rule == "primary_reduced"
    alert_messages = Notification.objects.filter(event__action="buyer.alert")
    recipients = set(alert_messages.values_list("recipient__username", flat=True))
    assert recipients == {
        world.alice.credit_manager.username,
        world.alice.users[Role.ORG_ADMIN].username,
        world.bob.credit_manager.username,
        world.bob.users[Role.ORG_ADMIN].username,
        world.broker_user.username,
        world.staff[Role.ARBITER].username,
    }
    for message in alert_messages:
        text = message.subject + message.body
        assert world.alice.organisation.name not in text
        assert "60" not in text.replace(buyer.name, "")  # no amount reaches the others


def test_a_higher_primary_raises_nothing(world: World) -> None:
    buyer = BuyerFactory.create()
    GuaranteeFactory.create(
        contract=world.alice.contract,
        buyer=buyer,
        primary_amount=Decimal("100000"),
        period=DateRange(date(2026, 1, 1), None, "[)"),
    )

    _report(world, buyer, "150000")

    assert Alert.objects.count() == 0

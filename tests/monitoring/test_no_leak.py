"""No alert reaches an unrelated tenant: every notification row and every e-mail sent after
commit is read, and each one is addressed to a party exposed to the buyer it names. The sweep
also runs as production does: an ordinary database role with row-level security in force."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from pytest_django import Settings

from monitoring.models import Alert, AlertExposure
from portal.models import Notification, Role
from tests.support.billing import celery_eager
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.monitoring import (
    LIQUIDATION,
    SAFEGUARD,
    grades_csv,
    imported,
    json_lines,
    notice,
)
from tests.support.rls import ordinary_role
from tests.support.scopes import acting_as, insurer_scope, scope_of
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import Buyer


def _parties(world: World, tenant_names: list[str]) -> set[str]:
    """The e-mail addresses that may hear of a buyer these tenants are exposed to."""
    addresses = {world.staff[Role.ARBITER].email}  # every tenant's dedicated arbiter here
    for name in tenant_names:
        tenant = world.tenant(name)
        addresses |= {tenant.credit_manager.email, tenant.users[Role.ORG_ADMIN].email}
        if name == "alice":
            addresses.add(world.broker_user.email)
    return addresses


def _scenario(world: World) -> dict[str, tuple[Buyer, list[str]]]:
    only_alice = BuyerFactory.create(name="Revendeur Alice", grade=8)
    GuaranteeFactory.create(
        contract=world.alice.contract,
        buyer=only_alice,
        period=DateRange(date(2026, 1, 1), None, "[)"),
    )
    only_bob = BuyerFactory.create(name="Revendeur Bob", grade=8)
    submit(world.bob, only_bob)
    shared = BuyerFactory.create(name="Revendeur Commun", grade=8)
    GuaranteeFactory.create(
        contract=world.alice.contract, buyer=shared, period=DateRange(date(2026, 1, 1), None, "[)")
    )
    GuaranteeFactory.create(
        contract=world.bob.contract, buyer=shared, period=DateRange(date(2026, 1, 1), None, "[)")
    )
    nobody = BuyerFactory.create(name="Revendeur Personne", grade=8)
    return {
        "alice": (only_alice, ["alice"]),
        "bob": (only_bob, ["bob"]),
        "shared": (shared, ["alice", "bob"]),
        "nobody": (nobody, []),
    }


@pytest.mark.django_db(transaction=True)
def test_every_notification_and_every_email_goes_to_an_exposed_party(
    world: World, settings: Settings
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    buyers = _scenario(world)
    arbiter = world.staff[Role.ARBITER]
    Notification.objects.all().delete()
    mail.outbox.clear()

    with celery_eager():
        imported(
            arbiter,
            json_lines(
                *(
                    notice(number, siren=buyer.siren, nature=SAFEGUARD)
                    for number, (buyer, _) in enumerate(buyers.values(), start=1)
                )
            ),
        )
        imported(
            arbiter,
            grades_csv(*((buyer.siren, "2026-11-02", 2, "Agence") for buyer, _ in buyers.values())),
            kind="grades",
            name="notes.csv",
        )

    assert Alert.objects.count() == 8  # an opening and a fall on each of the four buyers
    names = {key: buyer.name for key, (buyer, _) in buyers.items()}
    sent = [(message.to[0], message.subject) for message in mail.outbox]
    assert len(sent) == Notification.objects.count() > 0
    for address, subject in sent:
        [key] = [key for key, name in names.items() if name in subject]
        assert address in _parties(world, buyers[key][1]), (address, subject)
    for notification in Notification.objects.select_related("recipient"):
        [key] = [key for key, name in names.items() if name in notification.subject]
        assert notification.recipient.email in _parties(world, buyers[key][1])
    assert not any(names["nobody"] in subject for _, subject in sent)
    charlie = world.charlie.organisation
    assert not Notification.objects.filter(recipient__organisation=charlie).exists()
    # Each party heard of each alert once, in the app and by e-mail.
    pairs = [(address, subject) for address, subject in sent]
    assert len(pairs) == len(set(pairs))


@pytest.mark.django_db
def test_the_sweep_runs_under_row_level_security(world: World) -> None:
    buyer = BuyerFactory.create()
    GuaranteeFactory.create(
        contract=world.alice.contract, buyer=buyer, period=DateRange(date(2026, 1, 1), None, "[)")
    )
    arbiter = world.staff[Role.ARBITER]
    with ordinary_role():
        with acting_as(arbiter):
            file = imported(
                arbiter,
                json_lines(notice(siren=buyer.siren, nature=LIQUIDATION, judged_on="2026-11-20")),
            )
        assert file.alerts == 1
        # Past the application, the database shows alice's alert feed to alice only.
        for tenant, expected in ((world.alice, 1), (world.bob, 0)):
            with scope_of(tenant), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM monitoring_alertexposure")
                assert cursor.fetchone() == (expected,)
    with insurer_scope():
        assert AlertExposure.objects.get().policyholder_id == world.alice.organisation.pk

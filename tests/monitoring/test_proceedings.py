"""Collective-proceedings notices applied: an opening alerts the exposed parties once; the same
judgment twice counts once; a rectification replaces, a cancellation withdraws; a re-import is a
no-op; liquidation ends the top-ups from the judgment date; openings hold open requests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from monitoring.models import Alert, AlertExposure, FileStatus, NoticeState, ProceedingsNotice
from portal.errors import Conflict
from portal.models import AuditEvent, Delivery, Notification, Role, User
from portal.timeutils import business_today
from tests.support.factories import BuyerFactory, UserFactory
from tests.support.monitoring import (
    LIQUIDATION,
    RECEIVERSHIP,
    SAFEGUARD,
    exposed_buyer,
    imported,
    json_lines,
    notice,
    previous_of,
)
from tests.support.scopes import acting_as, insurer_scope
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting import selectors, services
from underwriting.models import Buyer, GuaranteeChange, ProceedingsStatus

pytestmark = pytest.mark.django_db


def _exposed_buyer(world: World, **fields: object) -> Buyer:
    """A buyer alice holds a top-up on (40 000 € since January); bob and charlie have nothing."""
    return exposed_buyer((world.alice, "40000"), **fields)


def _recipients() -> set[str]:
    return set(Notification.objects.values_list("recipient__username", flat=True))


def test_an_opening_alerts_every_exposed_party_once_and_nobody_else(
    world: World, arbiter: User
) -> None:
    buyer = _exposed_buyer(world)
    Notification.objects.all().delete()

    file = imported(arbiter, json_lines(notice(siren=buyer.siren, nature=RECEIVERSHIP)))

    assert file.status == FileStatus.APPLIED
    assert (file.records, file.new_records, file.alerts) == (1, 1, 1)
    [alert] = Alert.objects.all()
    assert alert.rule == "proceedings"
    assert alert.occurred_on == date(2026, 11, 20)
    buyer.refresh_from_db()
    assert buyer.proceedings == ProceedingsStatus.RECEIVERSHIP
    with insurer_scope():
        exposed = list(AlertExposure.objects.values_list("policyholder_id", "top_up"))
    assert exposed == [(world.alice.organisation.pk, Decimal("40000.00"))]
    # alice's credit manager and org admin, its broker, its dedicated arbiter: once each.
    expected = {
        world.alice.credit_manager.username,
        world.alice.users[Role.ORG_ADMIN].username,
        world.broker_user.username,
        arbiter.username,
    }
    assert _recipients() == expected
    alert_notifications = Notification.objects.filter(event__action="buyer.alert")
    assert alert_notifications.count() == 4
    assert Delivery.objects.filter(notification__in=alert_notifications).count() == 4
    subject = alert_notifications.first().subject  # type: ignore[union-attr]
    assert buyer.name in subject and "redressement" in subject


def test_an_opening_on_a_buyer_nobody_is_exposed_to_tells_no_one(
    world: World, arbiter: User
) -> None:
    buyer = BuyerFactory.create()
    Notification.objects.all().delete()

    imported(arbiter, json_lines(notice(siren=buyer.siren)))

    assert Alert.objects.count() == 1
    assert Notification.objects.count() == 0


def test_an_open_request_is_exposure_and_is_held_for_the_arbiter(
    world: World, arbiter: User
) -> None:
    buyer = BuyerFactory.create()
    request = submit(world.bob, buyer)
    Notification.objects.all().delete()

    imported(arbiter, json_lines(notice(siren=buyer.siren, nature=SAFEGUARD)))

    with insurer_scope():
        assert list(AlertExposure.objects.values_list("policyholder_id", "open_request")) == [
            (world.bob.organisation.pk, True)
        ]
        request.refresh_from_db()
    assert request.held_since is not None
    assert request.is_open
    assert world.bob.credit_manager.username in _recipients()
    assert world.alice.credit_manager.username not in _recipients()
    assert world.broker_user.username not in _recipients()  # its mandate is for alice only
    # Held: the arbiter cannot approve it before resuming it, but may refuse it.
    with acting_as(arbiter), pytest.raises(Conflict) as refused:
        services.guarantee_request_decide(request_id=request.pk, outcome="approved", actor=arbiter)
    assert refused.value.code == "request_on_hold"
    senior = world.staff[Role.SENIOR_ARBITER]
    with acting_as(arbiter):
        services.guarantee_request_resume(request_id=request.pk, actor=arbiter, note="Plan viable")
        request.refresh_from_db()
        assert request.held_since is None
        result = services.guarantee_request_decide(
            request_id=request.pk, outcome="approved", actor=senior
        )
    assert result.decision is not None


def test_a_held_request_can_be_refused_without_resuming(world: World, arbiter: User) -> None:
    buyer = BuyerFactory.create()
    request = submit(world.bob, buyer)
    imported(arbiter, json_lines(notice(siren=buyer.siren, nature=RECEIVERSHIP)))

    with acting_as(arbiter):
        result = services.guarantee_request_decide(
            request_id=request.pk, outcome="refused", actor=arbiter, rationale="Redressement"
        )
    assert result.decision is not None and result.decision.outcome == "refused"


def test_instant_approval_never_applies_while_proceedings_are_open(
    world: World, arbiter: User
) -> None:
    contract = world.alice.contract
    contract.discretionary_limit = Decimal("50000")
    with scopes_disabled():  # arrangement
        contract.save(update_fields=["discretionary_limit"])
    buyer = BuyerFactory.create(grade=9)
    imported(arbiter, json_lines(notice(siren=buyer.siren, nature=SAFEGUARD)))

    request = submit(world.alice, buyer, top_up="10000")

    assert request.status == "open"


def test_the_same_judgment_published_twice_counts_once(world: World, arbiter: User) -> None:
    buyer = _exposed_buyer(world)
    first = notice(1234, siren=buyer.siren)
    again = notice(1300, siren=buyer.siren, parution="20260232", dateparution="2026-11-28")

    imported(arbiter, json_lines(first))
    second_file = imported(arbiter, json_lines(again), name="autre.jsonl")

    assert second_file.new_records == 1
    assert second_file.alerts == 0
    assert Alert.objects.count() == 1
    states = dict(ProceedingsNotice.objects.values_list("number", "state"))
    assert states == {"1234": NoticeState.ACTIVE, "1300": NoticeState.DUPLICATE}


def test_importing_the_same_file_twice_changes_nothing_and_sends_nothing(
    world: World, arbiter: User
) -> None:
    buyer = _exposed_buyer(world)
    content = json_lines(notice(siren=buyer.siren, nature=LIQUIDATION))
    imported(arbiter, content)
    counts = (
        Notification.objects.count(),
        Delivery.objects.count(),
        Alert.objects.count(),
        AuditEvent.objects.exclude(action__startswith="health_file.").count(),
    )

    again = imported(arbiter, content)

    assert again.status == FileStatus.APPLIED
    assert (again.records, again.new_records, again.alerts) == (1, 0, 0)
    assert (
        Notification.objects.count(),
        Delivery.objects.count(),
        Alert.objects.count(),
        AuditEvent.objects.exclude(action__startswith="health_file.").count(),
    ) == counts


def test_a_rectification_replaces_the_notice_it_corrects(world: World, arbiter: User) -> None:
    buyer = _exposed_buyer(world)
    imported(arbiter, json_lines(notice(1234, siren=buyer.siren, nature=SAFEGUARD)))
    rectified = notice(
        1500,
        siren=buyer.siren,
        nature=RECEIVERSHIP,
        typeavis="rectificatif",
        parution="20260240",
        dateparution="2026-12-01",
        previous=previous_of(1234),
    )

    imported(arbiter, json_lines(rectified), name="rectificatif.jsonl")

    states = dict(ProceedingsNotice.objects.values_list("number", "state"))
    assert states == {"1234": NoticeState.REPLACED, "1500": NoticeState.ACTIVE}
    buyer.refresh_from_db()
    assert buyer.proceedings == ProceedingsStatus.RECEIVERSHIP
    # The corrected judgment is another judgment: one alert each.
    assert sorted(Alert.objects.values_list("data__event", flat=True)) == [
        "receivership",
        "safeguard",
    ]


def test_a_rectification_repeating_the_judgment_raises_nothing_new(
    world: World, arbiter: User
) -> None:
    buyer = _exposed_buyer(world)
    imported(arbiter, json_lines(notice(1234, siren=buyer.siren)))
    notifications = Notification.objects.count()

    imported(
        arbiter,
        json_lines(
            notice(
                1501,
                siren=buyer.siren,
                typeavis="rectificatif",
                parution="20260240",
                previous=previous_of(1234),
                tribunal="TRIBUNAL DE COMMERCE DE LYON (rectifié)",
            )
        ),
        name="rectificatif.jsonl",
    )

    assert Alert.objects.count() == 1
    assert Notification.objects.count() == notifications
    assert ProceedingsNotice.objects.get(number="1501").corrects.number == "1234"  # type: ignore[union-attr]


def test_a_cancellation_withdraws_the_notice_and_the_proceedings(
    world: World, arbiter: User
) -> None:
    buyer = _exposed_buyer(world)
    imported(arbiter, json_lines(notice(1234, siren=buyer.siren, nature=SAFEGUARD)))
    cancellation = notice(
        1600,
        siren=buyer.siren,
        typeavis="annulation",
        parution="20260241",
        previous=previous_of(1234),
    )

    imported(arbiter, json_lines(cancellation), name="annulation.jsonl")

    states = dict(ProceedingsNotice.objects.values_list("number", "state"))
    assert states["1234"] == NoticeState.WITHDRAWN
    buyer.refresh_from_db()
    assert buyer.proceedings == ProceedingsStatus.NONE
    assert Alert.objects.count() == 1  # the cancellation itself raises nothing


def test_a_correction_that_arrives_before_its_notice_still_applies(
    world: World, arbiter: User
) -> None:
    buyer = _exposed_buyer(world)
    cancellation = notice(
        1600,
        siren=buyer.siren,
        typeavis="annulation",
        parution="20260241",
        previous=previous_of(1234),
    )
    imported(arbiter, json_lines(cancellation), name="annulation.jsonl")

    imported(arbiter, json_lines(notice(1234, siren=buyer.siren)))

    assert ProceedingsNotice.objects.get(number="1234").state == NoticeState.WITHDRAWN
    assert Alert.objects.count() == 0
    buyer.refresh_from_db()
    assert buyer.proceedings == ProceedingsStatus.NONE


def test_a_closure_ends_the_proceedings(world: World, arbiter: User) -> None:
    buyer = _exposed_buyer(world)
    imported(
        arbiter,
        json_lines(
            notice(1, siren=buyer.siren, nature=SAFEGUARD, judged_on="2026-03-02"),
            notice(
                2,
                siren=buyer.siren,
                nature="Jugement de clôture de la procédure de sauvegarde",
                judged_on="2026-10-02",
            ),
        ),
    )
    buyer.refresh_from_db()
    assert buyer.proceedings == ProceedingsStatus.NONE


def test_unknown_buyers_are_counted_never_created(arbiter: User) -> None:
    buyers = Buyer.objects.count()

    file = imported(arbiter, json_lines(notice(siren="552100554"), notice(2, siren="542051180")))

    assert (file.records, file.unknown_buyers) == (0, 2)
    assert Buyer.objects.count() == buyers
    assert ProceedingsNotice.objects.count() == 0


def test_a_malformed_line_is_reported_with_its_number_and_the_rest_applied(
    world: World, arbiter: User
) -> None:
    buyer = _exposed_buyer(world)
    content = json_lines(
        notice(1, siren=buyer.siren),
        '{"familleavis": "collective", "typeavis": "annonce"',
        notice(3, siren=buyer.siren, nature=LIQUIDATION, judged_on="2026-11-21"),
    )

    file = imported(arbiter, content)

    assert file.status == FileStatus.APPLIED
    assert [problem["line"] for problem in file.problems] == [2]
    assert file.problems[0]["reason"]
    assert file.records == 2


def test_liquidation_ends_the_top_up_from_the_judgment_date(world: World, arbiter: User) -> None:
    buyer = _exposed_buyer(world)
    judged_on = business_today() - timedelta(days=10)

    imported(
        arbiter,
        json_lines(notice(siren=buyer.siren, nature=LIQUIDATION, judged_on=judged_on.isoformat())),
    )

    buyer.refresh_from_db()
    assert buyer.proceedings == ProceedingsStatus.LIQUIDATION
    contract = world.alice.contract
    with acting_as(world.alice.credit_manager):
        before = selectors.guarantee_in_force(
            contract=contract, buyer=buyer, on=judged_on - timedelta(days=1)
        )
        on_the_day = selectors.guarantee_in_force(contract=contract, buyer=buyer, on=judged_on)
        history = list(selectors.guarantee_history(contract=contract, buyer=buyer))
    # A delivery the day before the judgment stays covered (the claims issue relies on it).
    assert before is not None and before.amount == Decimal("40000")
    assert on_the_day is None
    assert [g.period.upper for g in history] == [judged_on]
    assert history[0].period.lower == date(2026, 1, 1)
    assert AuditEvent.objects.filter(action="guarantee.liquidation").count() == 1
    # The exposed policyholder heard of the alert before its top-up ended.
    with insurer_scope():
        assert AlertExposure.objects.get().top_up == Decimal("40000.00")


def test_liquidation_applied_twice_ends_once(world: World, arbiter: User) -> None:
    buyer = _exposed_buyer(world)
    judged = (business_today() - timedelta(days=3)).isoformat()
    imported(
        arbiter, json_lines(notice(1, siren=buyer.siren, nature=LIQUIDATION, judged_on=judged))
    )
    imported(
        arbiter,
        json_lines(
            notice(2, siren=buyer.siren, nature=LIQUIDATION, judged_on=judged, parution="20260299")
        ),
    )
    assert AuditEvent.objects.filter(action="guarantee.liquidation").count() == 1
    with insurer_scope():
        assert all(
            g.change == GuaranteeChange.GRANT
            for g in selectors.guarantees_in_force().filter(buyer=buyer)
        )


def test_a_user_without_the_right_cannot_import(world: World) -> None:
    from portal.errors import Forbidden

    finance = UserFactory.create(organisation=world.insurer, role=Role.FINANCE_OPS)
    for user in (world.alice.credit_manager, world.broker_user, finance):
        with pytest.raises(Forbidden):
            imported(user, json_lines(notice()))


def test_an_opening_the_same_file_shows_closed_alerts_nobody(world: World, arbiter: User) -> None:
    buyer = _exposed_buyer(world)

    file = imported(
        arbiter,
        json_lines(
            notice(1, siren=buyer.siren, nature=SAFEGUARD, judged_on="2024-03-02"),
            notice(
                2,
                siren=buyer.siren,
                nature="Jugement de clôture de la procédure de sauvegarde",
                judged_on="2025-10-02",
            ),
        ),
    )

    assert file.alerts == 0
    assert ProceedingsNotice.objects.filter(state=NoticeState.ACTIVE).count() == 2

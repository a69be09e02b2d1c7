"""The role home pages as working dashboards (issue 14): a wholesaler's cover, a broker's
clients, the arbiters' queue counts, countersignatures and largest exposures, each figure
computed in a few aggregate queries over the viewer's scope only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone, translation
from django_scopes import scopes_disabled

from billing.models import Payment
from portal import dashboards
from portal.models import Role
from portal.money import eur
from portal.timeutils import business_today
from tests.support.clients import client_for
from tests.support.factories import (
    BuyerFactory,
    DecisionFactory,
    GuaranteeFactory,
    GuaranteeRequestFactory,
    InvoiceFactory,
    MandateFactory,
)
from tests.support.rls import ordinary_role
from tests.support.scopes import acting_as, insurer_scope
from tests.support.world import Tenant, World
from underwriting.models import CountersignatureState, PendingDecision, RequestStatus


def _cover(tenant: Tenant, *, top_up: str, primary: str, exposure: str, **fields: object):
    """A top-up in force since last month on a new buyer of `tenant`."""
    with scopes_disabled():
        return GuaranteeFactory.create(
            contract=tenant.contract,
            amount=Decimal(top_up),
            primary_amount=Decimal(primary),
            exposure=Decimal(exposure),
            period=fields.pop("period", DateRange(business_today() - timedelta(days=40), None)),
            **fields,
        )


def _fr(amount: str) -> str:
    with translation.override("fr"):
        return eur(Decimal(amount))


def _page(user, path: str) -> str:
    answer = client_for(user).get(path)
    assert answer.status_code == 200, answer.status_code
    return answer.content.decode()


def test_the_wholesaler_sees_its_exposure_cover_and_ratio_and_nothing_of_bob(world: World) -> None:
    _cover(world.alice, top_up="40000", primary="100000", exposure="200000")
    with scopes_disabled():
        # An open request on a buyer without a top-up: its declared exposure and primary count.
        GuaranteeRequestFactory.create(
            contract=world.alice.contract,
            exposure=Decimal("50000"),
            primary_amount=Decimal("20000"),
        )
    _cover(world.bob, top_up="999000", primary="999000", exposure="9990000")

    page = _page(world.alice.credit_manager, "/portal/")

    assert _fr("250000") in page  # 200 000 + 50 000 declared
    assert _fr("120000") in page  # primary
    assert _fr("40000") in page  # top-up in force
    assert _fr("160000") in page  # total cover
    assert "64,0 %" in page  # 160 000 / 250 000
    assert _fr("999000") not in page
    assert _fr("1998000") not in page


def test_a_wholesaler_without_contracts_gets_a_dashboard_of_empty_states(world: World) -> None:
    page = _page(world.charlie.credit_manager, "/portal/")
    assert "Aucune demande en cours." in page
    assert "Tout l'encours déclaré est couvert." in page
    assert "Aucun top-up ne prend fin dans les 30 jours." in page
    assert 'data-testid="cover-chart"' in page
    assert "aucun encours déclaré" in page


def test_a_seasonal_top_up_ending_within_30_days_is_listed_unless_a_period_follows(
    world: World,
) -> None:
    today = business_today()
    seasonal = _cover(
        world.alice,
        top_up="30000",
        primary="50000",
        exposure="80000",
        period=DateRange(today - timedelta(days=10), today + timedelta(days=11)),  # last day +10
    )
    followed = _cover(
        world.alice,
        top_up="20000",
        primary="50000",
        exposure="80000",
        period=DateRange(today - timedelta(days=10), today + timedelta(days=5)),
    )
    with scopes_disabled():
        GuaranteeFactory.create(
            contract=world.alice.contract,
            buyer=followed.buyer,
            amount=Decimal("10000"),
            period=DateRange(today + timedelta(days=5), None),
        )
    _cover(
        world.alice,
        top_up="25000",
        primary="50000",
        exposure="80000",
        period=DateRange(today - timedelta(days=10), today + timedelta(days=45)),
    )

    with acting_as(world.alice.credit_manager):
        ending = list(
            dashboards.top_ups_ending(policyholder_ids=[world.alice.organisation.pk], on=today)
        )

    assert [guarantee.pk for guarantee in ending] == [seasonal.pk]
    page = _page(world.alice.credit_manager, "/portal/")
    last_day = (today + timedelta(days=10)).strftime("%d/%m/%Y")
    assert seasonal.buyer.name in page and last_day in page


def test_the_largest_uncovered_buyers_come_first_and_a_fully_covered_one_is_left_out(
    world: World,
) -> None:
    small = _cover(world.alice, top_up="10000", primary="20000", exposure="40000")  # 10 000
    large = _cover(world.alice, top_up="10000", primary="20000", exposure="130000")  # 100 000
    _cover(world.alice, top_up="50000", primary="50000", exposure="100000")  # covered
    with scopes_disabled():
        asked = GuaranteeRequestFactory.create(
            contract=world.alice.contract,
            exposure=Decimal("70000"),
            primary_amount=Decimal("20000"),
        )  # 50 000

    with acting_as(world.alice.credit_manager):
        lines = dashboards.largest_uncovered(
            policyholder_ids=[world.alice.organisation.pk], on=business_today()
        )

    assert [(line.buyer_id, line.uncovered) for line in lines] == [
        (large.buyer_id, Decimal("100000")),
        (asked.buyer_id, Decimal("50000")),
        (small.buyer_id, Decimal("10000")),
    ]


def test_the_dashboard_shows_a_decisions_client_message_never_its_internal_note(
    world: World,
) -> None:
    with scopes_disabled():
        DecisionFactory.create(
            request__contract=world.alice.contract,
            rationale="Note interne : bilan 2025 fragile",
            client_message="Accordé pour la rentrée.",
        )
    page = _page(world.alice.credit_manager, "/portal/")
    assert "Accordé pour la rentrée." in page
    assert "bilan 2025 fragile" not in page


def test_unpaid_invoices_due_and_overdue_are_shown_to_finance_only(world: World) -> None:
    today = business_today()
    with scopes_disabled():
        InvoiceFactory.create(contract=world.alice.contract, due_on=today + timedelta(days=5))
        overdue = InvoiceFactory.create(
            contract=world.alice.contract,
            month=(today.replace(day=1) - timedelta(days=200)).replace(day=1),
            due_on=today - timedelta(days=3),
            premium_total=Decimal("163.50"),
        )
        Payment.objects.create(
            invoice=overdue,
            policyholder=overdue.policyholder,
            received_on=today,
            amount=Decimal("100.00"),
        )
        paid = InvoiceFactory.create(
            contract=world.alice.contract,
            month=(today.replace(day=1) - timedelta(days=100)).replace(day=1),
            due_on=today - timedelta(days=40),
        )
        Payment.objects.create(
            invoice=paid, policyholder=paid.policyholder, received_on=today, amount=paid.total
        )
    with acting_as(world.alice.finance):
        figures = dashboards.invoice_figures(policyholder_ids=[world.alice.organisation.pk])
    assert (figures.due_count, figures.overdue_count) == (1, 1)
    assert figures.overdue_amount == Decimal("63.50")  # 163.50 less the 100.00 received
    assert 'data-testid="invoice-figures"' in _page(world.alice.finance, "/portal/")
    assert 'data-testid="invoice-figures"' not in _page(world.alice.credit_manager, "/portal/")


def test_the_cover_chart_has_twelve_month_ends_and_counts_a_grant_from_its_start(
    world: World,
) -> None:
    today = business_today()
    start = today.replace(day=1) - timedelta(days=1)  # the last day of last month
    _cover(
        world.alice,
        top_up="40000",
        primary="60000",
        exposure="150000",
        period=DateRange(start, None),
    )
    with acting_as(world.alice.credit_manager):
        points = dashboards.cover_history(
            policyholder_ids=[world.alice.organisation.pk], today=today
        )
    assert len(points) == 12 and points[-1].on == today and points[-2].on == start
    assert [point.total for point in points[:-2]] == [Decimal("0")] * 10
    assert points[-2].top_up == points[-1].top_up == Decimal("40000")
    assert points[-1].primary == Decimal("60000")
    page = _page(world.alice.credit_manager, "/portal/")
    assert '<title id="cover-chart-title">' in page and 'data-testid="cover-history-table"' in page


def test_a_broker_with_two_clients_sees_one_row_each_and_can_ask_for_each(world: World) -> None:
    MandateFactory.create(broker=world.broker, policyholder=world.bob.organisation)
    _cover(world.alice, top_up="40000", primary="100000", exposure="200000")
    _cover(world.bob, top_up="15000", primary="30000", exposure="60000")
    charlie_name = world.charlie.organisation.name

    page = _page(world.broker_user, "/broker/")

    assert page.count('data-testid="client-row"') == 2
    assert _fr("200000") in page and _fr("60000") in page
    assert _fr("260000") in page  # the total row
    assert "70,0 %" in page and "75,0 %" in page
    assert f"/contracts/{world.alice.contract.pk}/buyers/" in page
    assert f"/contracts/{world.bob.contract.pk}/buyers/" in page
    assert charlie_name not in page


def test_a_request_a_broker_submits_records_the_broker_and_says_so(world: World) -> None:
    from tests.support.underwriting import submit

    request = submit(world.alice, BuyerFactory.create(), by=world.broker_user)
    assert request.submitted_by == world.broker_user
    page = _page(world.alice.credit_manager, f"/requests/{request.pk}/")
    assert f"{world.broker_user} ({world.broker.name})" in page


def test_the_arbiter_home_counts_open_overdue_unassigned_and_mine(world: World) -> None:
    arbiter = world.staff[Role.ARBITER]
    now = timezone.now()
    with scopes_disabled():
        GuaranteeRequestFactory.create(contract=world.alice.contract, assigned_to=arbiter)
        GuaranteeRequestFactory.create(
            contract=world.bob.contract, submitted_at=now - timedelta(days=5)
        )  # due 3 days ago, unassigned
        GuaranteeRequestFactory.create(contract=world.bob.contract, status=RequestStatus.REFUSED)

    with acting_as(arbiter):
        counts = dashboards.queue_counts(user=arbiter, now=now, countersigns=False)

    assert (counts.open, counts.overdue, counts.unassigned, counts.mine) == (2, 1, 1, 1)
    page = _page(arbiter, "/backoffice/")
    assert 'data-testid="count-overdue"' in page
    assert 'data-testid="to-countersign"' not in page  # not a countersigner


def _awaiting(tenant: Tenant, proposer, amount: str = "200000") -> PendingDecision:
    with scopes_disabled():
        request = GuaranteeRequestFactory.create(
            contract=tenant.contract,
            status=RequestStatus.AWAITING_COUNTERSIGNATURE,
            requested_top_up=Decimal(amount),
            exposure=Decimal("1000000"),
            primary_amount=Decimal("500000"),
        )
        return PendingDecision.objects.create(
            request=request,
            policyholder=request.policyholder,
            outcome="approved",
            amount=Decimal(amount),
            proposed_by=proposer,
            proposed_at=timezone.now(),
            state=CountersignatureState.PENDING,
        )


def test_the_senior_sees_what_waits_for_their_countersignature_and_the_queue_opens_on_it(
    world: World,
) -> None:
    senior = world.staff[Role.SENIOR_ARBITER]
    pending = _awaiting(world.alice, world.staff[Role.ARBITER])
    with scopes_disabled():
        GuaranteeRequestFactory.create(contract=world.bob.contract)  # open, not to countersign

    home = _page(senior, "/backoffice/")
    assert home.count('data-testid="to-countersign-row"') == 1
    assert f"/backoffice/requests/{pending.request_id}/" in home

    queue = _page(senior, "/backoffice/queue/")
    assert queue.count('data-testid="queue-open"') == 1
    assert f"/backoffice/requests/{pending.request_id}/" in queue


def test_the_arbiter_still_opens_the_queue_on_their_own_requests(world: World) -> None:
    arbiter = world.staff[Role.ARBITER]
    with scopes_disabled():
        mine = GuaranteeRequestFactory.create(contract=world.alice.contract, assigned_to=arbiter)
        GuaranteeRequestFactory.create(contract=world.bob.contract)
    queue = _page(arbiter, "/backoffice/queue/")
    assert queue.count('data-testid="queue-open"') == 1
    assert str(mine.pk) in queue


def test_the_largest_exposures_sum_top_ups_by_buyer_across_policyholders(world: World) -> None:
    shared = BuyerFactory.create(name="Revendeur partagé")
    _cover(world.alice, top_up="40000", primary="100000", exposure="200000", buyer=shared)
    _cover(world.bob, top_up="30000", primary="50000", exposure="90000", buyer=shared)
    alone = _cover(world.bob, top_up="60000", primary="60000", exposure="150000")
    arbiter = world.staff[Role.ARBITER]

    with acting_as(arbiter):
        lines = dashboards.largest_exposures(on=business_today())

    assert [(line.buyer_id, line.top_up, line.primary, line.policyholders) for line in lines] == [
        (shared.pk, Decimal("70000"), Decimal("150000"), 2),
        (alone.buyer_id, Decimal("60000"), Decimal("60000"), 1),
    ]
    page = _page(arbiter, "/backoffice/")
    assert page.index("Revendeur partagé") < page.index(alone.buyer.name)


def test_the_decision_page_shows_the_arbiters_authority_and_when_the_request_exceeds_it(
    world: World,
) -> None:
    arbiter = world.staff[Role.ARBITER]
    arbiter.authority_amount = Decimal("150000")
    arbiter.save(update_fields=["authority_amount"])
    with scopes_disabled():
        within = GuaranteeRequestFactory.create(contract=world.alice.contract)
        above = GuaranteeRequestFactory.create(
            contract=world.bob.contract,
            requested_top_up=Decimal("200000"),
            exposure=Decimal("1000000"),
            primary_amount=Decimal("500000"),
        )

    page = _page(arbiter, f"/backoffice/requests/{within.pk}/")
    assert _fr("150000") in page and 'class="authority"' in page
    page = _page(arbiter, f"/backoffice/requests/{above.pk}/")
    assert 'class="authority warning"' in page and "contre-signature" in page
    senior_page = _page(world.staff[Role.SENIOR_ARBITER], f"/backoffice/requests/{above.pk}/")
    assert "Vous décidez sans contre-signature." in senior_page


def test_the_claims_handler_home_shows_no_queue_figures(world: World) -> None:
    page = _page(world.staff[Role.CLAIMS_HANDLER], "/backoffice/")
    assert 'data-testid="queue-counts"' not in page


def test_the_home_pages_speak_english_with_english_amounts(world: World) -> None:
    _cover(world.alice, top_up="40000", primary="100000", exposure="250000")
    pages = {}
    for user, path in (
        (world.alice.credit_manager, "/portal/"),
        (world.broker_user, "/broker/"),
        (world.staff[Role.SENIOR_ARBITER], "/backoffice/"),
    ):
        client = client_for(user)
        client.post("/i18n/setlang/", {"language": "en", "next": path})
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        pages[path] = answer.content.decode()
        assert '<html lang="en"' in pages[path]
    assert "€250,000.00" in pages["/portal/"] and "€250,000.00" in pages["/broker/"]


def test_the_live_contracts_are_found_through_their_end_date_index_under_rls(
    world: World,
) -> None:
    """The home pages reach the periods in force through the contracts live on the day, read
    first (portal.dashboards._periods): by the `contract_ends_on` index, which the policy
    leaves usable (date comparisons are leakproof), not by reading every ended contract."""
    today = business_today()
    with ordinary_role(), insurer_scope():
        live = dashboards._live_contracts(today, today).order_by().values("pk")
        sql, params = live.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET LOCAL enable_seqscan = on")
        assert "contract_ends_on" in plan, plan
        assert set(live.values_list("pk", flat=True)) >= {world.alice.contract.pk}

"""The policyholder's side of monitoring: its alerts (and its broker's view of them), the
buyers it watches sorted by exposure, the grade chart and the proceedings history on the buyer
page and the risk file, and the unread badge in the header. Alerts come from real imports."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.models import Notification, Role, User
from portal.timeutils import business_today
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.monitoring import (
    exposed_buyer,
    grades_csv,
    imported,
    json_lines,
    notice,
    previous_of,
)
from tests.support.roles import user_for
from tests.support.underwriting import submit
from tests.support.world import Tenant, World
from underwriting.models import Buyer

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def _holding(tenant: Tenant, amount: str = "40000", **buyer: object) -> Buyer:
    """A buyer `tenant` holds a top-up of `amount` on, in force since January."""
    return exposed_buyer((tenant, amount), **buyer)


def _alerted(world: World, arbiter: User) -> Buyer:
    """A buyer alice is exposed to, that opened receivership (one alert, through the import)."""
    buyer = _holding(world.alice, name="Revendeur Alerté")
    imported(arbiter, json_lines(notice(siren=buyer.siren)))
    return buyer


def _graded(arbiter: User, buyer: Buyer, *changes: tuple[int, int, str]) -> None:
    """Grade changes imported for `buyer`: (days ago, grade, source) each."""
    today = business_today()
    rows = [
        (buyer.siren or "", (today - timedelta(days=ago)).isoformat(), grade, source)
        for ago, grade, source in changes
    ]
    imported(arbiter, grades_csv(*rows), kind="grades", name="notes.csv")


def _svg(html: str, testid: str = "grade-chart") -> ET.Element:
    match = re.search(rf'<svg [^>]*data-testid="{testid}".*?</svg>', html, re.S)
    assert match, f"no {testid} SVG in the page"
    return ET.fromstring(match.group(0))  # noqa: S314 - our own page


def _rows(html: str, testid: str) -> list[str]:
    return re.findall(rf'<tr data-testid="{testid}".*?</tr>', html, re.S)


# --- alerts ---------------------------------------------------------------------------------


def test_alices_users_see_the_alert_that_reached_alice(world: World, arbiter: User) -> None:
    buyer = _alerted(world, arbiter)

    for user in world.alice.users.values():
        response = client_for(user).get(reverse("alerts"))
        assert response.status_code == 200, user.username
        html = response.content.decode()
        [row] = _rows(html, "alert-row")
        assert buyer.name in row
        assert "redressement judiciaire" in row
        assert "20/11/2026" in row
        assert re.search(r"40\s000,00 €", row)  # its top-up then, in French
        link = reverse("buyer_page", args=[world.alice.contract.pk, buyer.pk])
        assert f'href="{link}"' in row
        assert 'data-testid="alert-client"' not in row  # its own alerts: no client column


def test_the_broker_sees_its_clients_alerts_with_the_client_named(
    world: World, arbiter: User
) -> None:
    buyer = _alerted(world, arbiter)

    html = client_for(world.broker_user).get(reverse("alerts")).content.decode()

    [row] = _rows(html, "alert-row")
    assert buyer.name in row
    assert world.alice.organisation.name in row


def test_bob_and_charlie_see_an_empty_feed(world: World, arbiter: User) -> None:
    buyer = _alerted(world, arbiter)

    for user in [world.bob.credit_manager, world.charlie.credit_manager]:
        response = client_for(user).get(reverse("alerts"))
        assert response.status_code == 200
        html = response.content.decode()
        assert buyer.name not in html
        assert _rows(html, "alert-row") == []
        assert 'data-testid="alerts-empty"' in html


@pytest.mark.parametrize("page", ["alerts", "buyer_watchlist"])
def test_insurer_staff_get_404_on_the_policyholder_pages(world: World, page: str) -> None:
    for user in [*world.staff.values(), user_for(world, "no_organisation")]:
        assert client_for(user).get(reverse(page)).status_code == 404, user.username


def test_the_alert_feed_is_paginated(
    world: World, arbiter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyers = [_holding(world.alice) for _ in range(3)]
    imported(
        arbiter,
        json_lines(*(notice(2000 + n, siren=b.siren) for n, b in enumerate(buyers))),
    )
    client = client_for(world.alice.credit_manager)

    monkeypatch.setattr("monitoring.views.PAGE_SIZE", 2)

    first = client.get(reverse("alerts")).content.decode()
    second = client.get(reverse("alerts"), {"page": 2}).content.decode()
    beyond = client.get(reverse("alerts"), {"page": "x"})

    assert len(_rows(first, "alert-row")) == 2
    assert len(_rows(second, "alert-row")) == 1
    assert beyond.status_code == 200


# --- watchlist ------------------------------------------------------------------------------


def _watchlist(user: User, **params: str) -> list[str]:
    response = client_for(user).get(reverse("buyer_watchlist"), params)
    assert response.status_code == 200
    return [
        re.search(r'data-testid="watch-buyer">([^<]+)<', row).group(1)  # type: ignore[union-attr]
        for row in _rows(response.content.decode(), "watch-row")
    ]


def _portfolio(world: World) -> None:
    """alice: a large top-up on a good buyer, a small one on a poor buyer, an open request on
    a third; bob: a top-up on a fourth."""
    _holding(world.alice, "60000", name="Bravo", grade=8)
    _holding(world.alice, "10000", name="Alpha", grade=2)
    submit(world.alice, BuyerFactory.create(name="Charlie", grade=6))
    _holding(world.bob, "90000", name="Delta", grade=5)


def test_the_watchlist_sorts_by_exposure_by_default(world: World) -> None:
    _portfolio(world)

    assert _watchlist(world.alice.credit_manager) == ["Bravo", "Alpha", "Charlie"]
    assert _watchlist(world.alice.finance, sort="exposure") == ["Bravo", "Alpha", "Charlie"]
    assert _watchlist(world.alice.credit_manager, sort="grade") == ["Alpha", "Charlie", "Bravo"]
    assert _watchlist(world.alice.credit_manager, sort="name") == ["Alpha", "Bravo", "Charlie"]
    assert _watchlist(world.bob.credit_manager) == ["Delta"]
    assert _watchlist(world.charlie.credit_manager) == []


@pytest.mark.parametrize("bad", ["bogus", "-exposure", "", "name;drop", "grade\x00"])
def test_a_bad_sort_falls_back_to_exposure(world: World, bad: str) -> None:
    _portfolio(world)

    assert _watchlist(world.alice.credit_manager, sort=bad) == ["Bravo", "Alpha", "Charlie"]


def test_the_watchlist_shows_the_grade_trend_and_the_client_to_the_broker(
    world: World, arbiter: User
) -> None:
    buyer = _holding(world.alice, name="Tendance", grade=8)
    _graded(arbiter, buyer, (90, 6, "Agence A"), (10, 3, "Agence A"))

    html = client_for(world.broker_user).get(reverse("buyer_watchlist")).content.decode()

    [row] = _rows(html, "watch-row")
    assert world.alice.organisation.name in row  # the client column
    assert "3/10" in row
    assert "6 → 3" in row
    sparkline = _svg(row.replace('class="grade-sparkline"', 'data-testid="spark"'), "spark")
    assert sparkline.get("role") == "img"
    assert "de 8/10 à 3/10" in (sparkline.get("aria-label") or "")


def test_the_watchlist_reads_a_constant_number_of_queries(world: World) -> None:
    def queries() -> int:
        client = client_for(world.alice.credit_manager)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("buyer_watchlist")).status_code == 200
        return len(captured)

    _holding(world.alice)
    one = queries()
    for _ in range(6):
        _holding(world.alice)
    submit(world.alice, BuyerFactory.create())
    assert queries() == one


# --- buyer page and risk file ---------------------------------------------------------------


def _history(world: World, arbiter: User) -> Buyer:
    """A buyer alice holds a top-up on, with two grade changes and a receivership notice that
    a rectification replaced (the judgment was a safeguard)."""
    buyer = _holding(world.alice, name="Historique")
    _graded(arbiter, buyer, (200, 6, "Agence A"), (20, 3, "Agence B"))
    imported(arbiter, json_lines(notice(1234, siren=buyer.siren)))
    imported(
        arbiter,
        json_lines(
            notice(
                1500,
                siren=buyer.siren,
                nature="Jugement d'ouverture d'une procédure de sauvegarde",
                typeavis="rectificatif",
                parution="20260240",
                dateparution="2026-12-01",
                previous=previous_of(1234),
            )
        ),
        name="rectificatif.jsonl",
    )
    return buyer


def _assert_health(html: str) -> None:
    chart = _svg(html)
    points = [c for c in chart.iter(f"{SVG}circle") if c.get("class") == "grade-point"]
    assert [p.get("data-grade") for p in points] == ["6", "3"]
    marks = [g for g in chart.iter(f"{SVG}g") if g.get("class") == "judgment"]
    assert [m.get("data-event") for m in marks] == ["safeguard"]  # the replaced one is not
    rows = _rows(html, "notice-row")
    assert len(rows) == 2
    replaced = next(row for row in rows if 'data-state="replaced"' in row)
    assert "<s>" in replaced and "Remplacé par un rectificatif" in replaced
    active = next(row for row in rows if 'data-state="active"' in row)
    assert "<s>" not in active and "sauvegarde" in active
    assert "TRIBUNAL DE COMMERCE DE LYON" in active


def test_the_buyer_page_shows_the_grade_chart_the_proceedings_and_alices_alerts(
    world: World, arbiter: User
) -> None:
    buyer = _history(world, arbiter)
    url = reverse("buyer_page", args=[world.alice.contract.pk, buyer.pk])

    for user in [world.alice.credit_manager, world.broker_user]:
        html = client_for(user).get(url).content.decode()
        _assert_health(html)
        alerts = _rows(html, "alert-row")
        assert alerts and all(buyer.name in row for row in alerts)


def test_the_buyer_page_has_an_empty_chart_and_history_for_a_quiet_buyer(world: World) -> None:
    buyer = _holding(world.alice)
    url = reverse("buyer_page", args=[world.alice.contract.pk, buyer.pk])

    html = client_for(world.alice.credit_manager).get(url).content.decode()

    chart = _svg(html)
    assert not list(chart.iter(f"{SVG}circle"))
    assert 'data-testid="proceedings-empty"' in html
    assert 'data-testid="alerts-empty"' in html


def test_the_risk_file_shows_the_grade_chart_and_the_proceedings(
    world: World, arbiter: User
) -> None:
    buyer = _history(world, arbiter)

    response = client_for(arbiter).get(reverse("buyer_risk_file", args=[buyer.pk]))

    assert response.status_code == 200
    _assert_health(response.content.decode())


# --- the unread badge -----------------------------------------------------------------------


def _badge(user: User) -> str | None:
    html = client_for(user).get(reverse("dashboard")).content.decode()
    match = re.search(r'data-testid="unread-count">(\d+)<', html)
    return match.group(1) if match else None


def test_the_unread_badge_goes_down_after_visiting_the_notifications(
    world: World, arbiter: User
) -> None:
    user = world.alice.credit_manager
    Notification.objects.filter(recipient=user).update(read_at=timezone.now())
    _alerted(world, arbiter)
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True).count()
    assert unread >= 1
    assert _badge(user) == str(unread)

    page = client_for(user).get(reverse("notifications")).content.decode()

    assert "Revendeur Alerté" in page
    assert re.search(r'<tr class="[^"]*\bunread\b', page)  # shown as new this once
    assert _badge(user) is None
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()
    # Another user's notifications stay unread.
    other = world.alice.users[Role.ORG_ADMIN]
    assert Notification.objects.filter(recipient=other, read_at__isnull=True).exists()


def test_the_badge_costs_one_count_query(world: World, arbiter: User) -> None:
    _alerted(world, arbiter)
    client = client_for(world.alice.credit_manager)
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("dashboard"))
    on_notifications = [
        q["sql"] for q in captured.captured_queries if "portal_notification" in q["sql"]
    ]
    assert len(on_notifications) == 1
    assert "COUNT(" in on_notifications[0]

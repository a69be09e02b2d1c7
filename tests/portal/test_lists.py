"""The lists as tools (portal.listing): search, sort, filters kept across pages, totals over the
filtered set, CSV/XLSX exports of exactly that set, empty states, and the tenant's rows only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from openpyxl import load_workbook

from portal import listing
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import GuaranteeRequest

pytestmark = pytest.mark.django_db


def _page(client: Client, url: str, **params: str) -> str:
    answer = client.get(url, params)
    assert answer.status_code == 200
    return answer.content.decode()


def _csv_rows(client: Client, url: str, **params: str) -> list[list[str]]:
    answer = client.get(url, {**params, "export": "csv"})
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert "attachment" in answer["Content-Disposition"]
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))


def _xlsx_rows(client: Client, url: str, **params: str) -> list[tuple[object, ...]]:
    answer = client.get(url, {**params, "export": "xlsx"})
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def _requests(world: World, names_and_amounts: list[tuple[str, str]]) -> list[GuaranteeRequest]:
    made = []
    for name, top_up in names_and_amounts:
        with scopes_disabled():
            buyer = BuyerFactory.create(name=name)
        made.append(submit(world.alice, buyer, top_up=top_up))
    return made


# ---------------------------------------------------------------------------------- requests


def test_the_requests_list_searches_sorts_and_adds_up_the_filtered_set(world: World) -> None:
    _requests(world, [("Alpha Négoce", "10000"), ("Beta Frais", "20000"), ("Gamma Bois", "5000")])
    with scopes_disabled():
        submit(world.bob, BuyerFactory.create(name="Alpha Bob"), top_up="7000")
    client = client_for(world.alice.credit_manager)
    url = reverse("request_list")

    everything = _page(client, url)
    assert everything.count('data-testid="list-row"') == 3
    assert "Alpha Bob" not in everything
    # The footer adds up the three requested top-ups: 35 000 €.
    assert listing.eur(Decimal("35000")) in everything

    found = _page(client, url, q="alpha")
    assert found.count('data-testid="list-row"') == 1 and "Alpha Négoce" in found
    assert listing.eur(Decimal("10000")) in found.split('data-testid="list-totals"')[1]

    by_amount = _page(client, url, sort="requested_top_up")
    order = [by_amount.index(name) for name in ("Gamma Bois", "Alpha Négoce", "Beta Frais")]
    assert order == sorted(order)
    assert 'aria-sort="ascending"' in by_amount
    descending = _page(client, url, sort="-requested_top_up")
    order = [descending.index(name) for name in ("Beta Frais", "Alpha Négoce", "Gamma Bois")]
    assert order == sorted(order)


def test_the_exports_hold_exactly_the_filtered_sorted_set(world: World) -> None:
    _requests(world, [("Alpha Négoce", "10000"), ("Beta Frais", "20000"), ("=cmd Gamma", "5000")])
    with scopes_disabled():
        submit(world.bob, BuyerFactory.create(name="Alpha Bob"), top_up="7000")
    client = client_for(world.alice.credit_manager)
    url = reverse("request_list")

    rows = _csv_rows(client, url, sort="-requested_top_up")
    assert rows[0][:3] == ["Déposée le", "Assuré", "Acheteur"]
    assert [row[2] for row in rows[1:]] == ["Beta Frais", "Alpha Négoce", "'=cmd Gamma"]
    assert rows[1][5] == "20000,00"

    filtered = _csv_rows(client, url, q="alpha")
    assert [row[2] for row in filtered[1:]] == ["Alpha Négoce"]

    sheet = _xlsx_rows(client, url, sort="requested_top_up")
    assert sheet[0][2] == "Acheteur"
    assert [row[2] for row in sheet[1:]] == ["=cmd Gamma", "Alpha Négoce", "Beta Frais"]
    # Money is a number in the spreadsheet, not text.
    assert [row[5] for row in sheet[1:]] == [5000, 10000, 20000]


def test_a_filter_stays_in_the_page_links_and_the_exports(world: World) -> None:
    made = _requests(world, [(f"Acheteur {n:02}", "1000") for n in range(listing.PER_PAGE + 3)])
    with scopes_disabled():
        GuaranteeRequest.objects.filter(pk=made[0].pk).update(status="withdrawn")
    client = client_for(world.alice.credit_manager)
    url = reverse("request_list")

    first = _page(client, url, status="open", q="acheteur")
    assert first.count('data-testid="list-row"') == listing.PER_PAGE
    assert "status=open" in first.split('data-testid="list-next"')[0].rsplit("href=", 1)[1]
    second = _page(client, url, status="open", q="acheteur", page="2")
    assert second.count('data-testid="list-row"') == 2
    # The filter form carries the filter values for the next search.
    assert 'value="acheteur"' in second
    assert len(_csv_rows(client, url, status="open", q="acheteur", page="2")) == 1 + 52


def test_an_overdue_request_carries_a_badge(world: World) -> None:
    late, on_time = _requests(world, [("Lent", "1000"), ("Rapide", "1000")])
    with scopes_disabled():
        GuaranteeRequest.objects.filter(pk=late.pk).update(
            due_at=timezone.now() - timedelta(hours=1)
        )
    client = client_for(world.alice.credit_manager)
    page = _page(client, reverse("request_list"))
    row = next(part for part in page.split("<tr") if "Lent" in part)
    assert "En retard" in row
    other = next(part for part in page.split("<tr") if "Rapide" in part)
    assert "En retard" not in other
    only_late = _page(client, reverse("request_list"), overdue="true")
    assert "Lent" in only_late and "Rapide" not in only_late


def test_every_row_links_to_its_request(world: World) -> None:
    (made,) = _requests(world, [("Lien", "1000")])
    page = _page(client_for(world.alice.credit_manager), reverse("request_list"))
    assert f'href="{reverse("request_detail", args=[made.pk])}"' in page
    assert 'class="linked' in page and 'scope="col"' in page and "<caption" in page


def test_the_empty_requests_list_says_what_to_do(world: World) -> None:
    page = _page(client_for(world.alice.credit_manager), reverse("request_list"))
    assert "Demander un top-up" in page
    searched = _page(client_for(world.alice.credit_manager), reverse("request_list"), q="zz")
    assert "Effacer les filtres" in searched


def test_an_outsider_sees_no_other_tenant_rows_in_the_list_nor_the_exports(world: World) -> None:
    _requests(world, [("Secret Alice", "1000")])
    for user in (world.bob.credit_manager, world.charlie.credit_manager):
        client = client_for(user)
        assert "Secret Alice" not in _page(client, reverse("request_list"), q="secret")
        assert len(_csv_rows(client, reverse("request_list"))) == 1
        assert len(_xlsx_rows(client, reverse("request_list"))) == 1
    broker = client_for(world.broker_user)
    assert "Secret Alice" in _page(broker, reverse("request_list"))


# -------------------------------------------------------------------------------- guarantees

"""The lists as tools (portal.listing): search, sort, filters kept across pages, totals over the
filtered set, CSV/XLSX exports of exactly that set, empty states, and the tenant's rows only."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled
from openpyxl import load_workbook

from portal import listing
from portal.models import Notification, User
from tests.support.claims import covered_buyer, declared, recently_due, unpaid
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.studies import buyer_row, graded_buyer, study_at
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


def test_the_arbiter_queue_marks_the_overdue_request_too(world: World) -> None:
    late, on_time = _requests(world, [("Lent", "1000"), ("Rapide", "1000")])
    with scopes_disabled():
        GuaranteeRequest.objects.filter(pk=late.pk).update(
            due_at=timezone.now() - timedelta(hours=1)
        )
    page = _page(client_for(world.staff["arbiter"]), reverse("queue"))
    assert page.count('data-testid="queue-overdue"') == 1
    row = next(part for part in page.split("<tr") if "Lent" in part)
    assert 'data-testid="queue-overdue"' in row


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
    with scopes_disabled():
        submit(world.bob, BuyerFactory.create(name="Secret Bob"), top_up="2000")
    broker = client_for(world.broker_user)
    page = _page(broker, reverse("request_list"))
    assert "Secret Alice" in page and "Secret Bob" not in page
    # The broker's client filter offers its mandated clients only.
    assert world.alice.organisation.name in page and world.bob.organisation.name not in page
    assert [row[2] for row in _csv_rows(broker, reverse("request_list"))[1:]] == ["Secret Alice"]


def test_insurer_staff_filter_the_requests_by_policyholder(world: World) -> None:
    _requests(world, [("Chez Alice", "1000")])
    with scopes_disabled():
        submit(world.bob, BuyerFactory.create(name="Chez Bob"), top_up="2000")
    client = client_for(world.staff["arbiter"])
    everything = _page(client, reverse("request_list"))
    assert "Chez Alice" in everything and "Chez Bob" in everything
    only_bob = _page(client, reverse("request_list"), policyholder=str(world.bob.organisation.pk))
    assert "Chez Bob" in only_bob and "Chez Alice" not in only_bob
    assert listing.eur(Decimal("2000")) in only_bob.split('data-testid="list-totals"')[1]


# -------------------------------------------------------------------------------- guarantees


def test_the_requests_list_costs_the_same_queries_for_three_rows_or_thirty(world: World) -> None:
    client = client_for(world.alice.credit_manager)
    _requests(world, [(f"Peu {n}", "1000") for n in range(3)])
    _page(client, reverse("request_list"))  # the session's first page does its own checks
    with CaptureQueriesContext(connection) as few:
        _page(client, reverse("request_list"))
    _requests(world, [(f"Beaucoup {n}", "1000") for n in range(27)])
    with CaptureQueriesContext(connection) as many:
        _page(client, reverse("request_list"))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_list_with_totals_counts_its_rows_once(world: World) -> None:
    """The totals' aggregate counts the filtered rows; the paginator takes that count instead
    of running its own COUNT (on a year's ledger, each is a scan of every invoice)."""
    client = client_for(world.alice.credit_manager)
    _requests(world, [(f"Compté {n}", "1000") for n in range(3)])
    _page(client, reverse("request_list"))
    with CaptureQueriesContext(connection) as queries:
        page = _page(client, reverse("request_list"), sort="-exposure")
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"] and 'FROM "underwriting_guaranteerequest"' in q["sql"]
    ]
    assert len(counts) == 1, counts
    assert "3 lignes" in page and 'aria-sort="descending"' in page


# -------------------------------------------------------------------------------- guarantees


def test_the_guarantees_list_sorts_by_total_cover_and_adds_up_what_is_filtered(
    world: World,
) -> None:
    small = covered_buyer(world.alice, top_up="10000", primary="5000")
    large = covered_buyer(world.alice, top_up="50000", primary="20000")
    covered_buyer(world.bob, top_up="99000", primary="1000")
    client = client_for(world.alice.credit_manager)
    url = reverse("guarantee_list")

    page = _page(client, url, sort="-total_cover")
    assert page.count('data-testid="list-row"') == 2
    assert page.index(large.name) < page.index(small.name)
    assert 'aria-sort="descending"' in page
    totals = page.split('data-testid="list-totals"')[1]
    assert listing.eur(Decimal("85000")) in totals  # 15 000 + 70 000 of total cover
    # The buyer cell links to the buyer's page: the whole row is a link.
    assert reverse("buyer_page", args=[world.alice.contract.pk, small.pk]) in page

    found = _page(client, url, q=small.name)
    assert found.count('data-testid="list-row"') == 1
    assert listing.eur(Decimal("15000")) in found.split('data-testid="list-totals"')[1]

    sheet = _xlsx_rows(client, url, sort="total_cover")
    assert [row[0] for row in sheet[1:]] == [small.name, large.name]
    assert [row[4] for row in sheet[1:]] == [15000, 70000]
    bob = _csv_rows(client_for(world.bob.credit_manager), url)
    assert len(bob) == 2 and small.name not in bob[1]


def test_the_empty_guarantees_list_says_how_a_guarantee_is_born(world: World) -> None:
    page = _page(client_for(world.alice.credit_manager), reverse("guarantee_list"))
    assert 'data-testid="list-empty"' in page and "demandez un top-up" in page


# --------------------------------------------------------------------------------- claims


def test_the_claims_list_filters_exports_and_keeps_to_its_tenant(world: World) -> None:
    first = covered_buyer(world.alice)
    second = covered_buyer(world.alice)
    one = declared(world.alice, first, unpaid("A-1", "1000", delivered=recently_due()))
    declared(world.alice, second, unpaid("B-1", "2500", delivered=recently_due()))
    declared(world.bob, covered_buyer(world.bob), unpaid("Z-1", "9", delivered=recently_due()))
    client = client_for(world.alice.credit_manager)
    url = reverse("claim_list")

    page = _page(client, url, sort="invoice_total")
    assert page.count('data-testid="claim-row"') == 2
    assert page.index(first.name) < page.index(second.name)
    assert listing.eur(Decimal("3500")) in page.split('data-testid="list-totals"')[1]
    found = _page(client, url, q="A-1")
    assert found.count('data-testid="claim-row"') == 1
    assert listing.eur(Decimal("1000")) in found.split('data-testid="list-totals"')[1]

    rows = _csv_rows(client, url, q="A-1")
    assert rows[0][0] == "Sinistre" and "Assuré" not in rows[0]
    assert [row[0] for row in rows[1:]] == [one.number]
    sheet = _xlsx_rows(client, url, sort="-invoice_total")
    assert [row[5] for row in sheet[1:]] == [2500, 1000]
    bob_rows = _csv_rows(client_for(world.bob.credit_manager), url)
    assert len(bob_rows) == 2 and one.number not in bob_rows[1]
    # The insurer's staff see whose claim it is.
    staff = _csv_rows(client_for(world.staff["claims_handler"]), url)
    assert "Assuré" in staff[0] and len(staff) == 4


# -------------------------------------------------------------------------------- studies


def test_the_studies_list_searches_and_exports(world: World) -> None:
    with scopes_disabled():
        first, second = graded_buyer(1), graded_buyer(2)
    # Amounts no other test uses: a file's analysis is remembered by its content.
    study_at(world, "submitted", buyer_row(first.siren or "", "123 457"), tenant=world.alice)
    study_at(world, "submitted", buyer_row(second.siren or "", "123 458"), tenant=world.bob)
    client = client_for(world.alice.credit_manager)
    url = reverse("study_list")

    page = _page(client, url)
    assert page.count('data-testid="list-row"') == 1 and 'data-testid="study-open"' in page
    assert _page(client, url, status="accepted").count('data-testid="list-row"') == 0
    rows = _csv_rows(client, url)
    assert len(rows) == 2 and rows[1][0] == world.alice.organisation.name
    arbiter = client_for(world.staff["arbiter"])
    to_review = _page(arbiter, url, review="1", q="bob")
    assert to_review.count('data-testid="list-row"') == 1
    # The review view is kept by the filter form.
    assert 'name="review" value="1"' in to_review


def test_the_empty_studies_list_says_how_to_start(world: World) -> None:
    page = _page(client_for(world.alice.credit_manager), reverse("study_list"))
    assert 'data-testid="studies-empty"' in page and "Nouvelle étude" in page


# -------------------------------------------------------------------------- notifications


def _notify(user: User, subject: str, *, read: bool = False) -> Notification:
    return Notification.objects.create(  # notifications are not tenant-owned rows
        recipient=user,
        subject=subject,
        body=f"Détail : {subject}",
        link="/requests/",
        read_at=timezone.now() if read else None,
    )


def _badge(client: Client) -> str | None:
    html = _page(client, reverse("request_list"))
    match = re.search(r'data-testid="unread-count">(\d+)<', html)
    return match.group(1) if match else None


def test_the_header_counts_unread_notifications_and_reading_them_lowers_it(
    world: World,
) -> None:
    user = world.alice.credit_manager
    Notification.objects.filter(recipient=user).update(read_at=timezone.now())
    for n in range(listing.PER_PAGE + 2):
        _notify(user, f"Alerte {n:02}")
    _notify(user, "Ancienne", read=True)
    _notify(world.bob.credit_manager, "Chez Bob")
    client = client_for(user)
    assert _badge(client) == str(listing.PER_PAGE + 2)
    assert 'aria-label="Notifications, 52 non lues"' in _page(client, reverse("request_list"))

    first = _page(client, reverse("notifications"), unread="on")
    assert first.count('data-testid="list-row"') == listing.PER_PAGE
    assert re.search(r'<tr class="[^"]*\bunread\b', first)
    assert "Chez Bob" not in first
    # Only what the page showed is read: two remain on the next page.
    assert _badge(client) == "2"
    _page(client, reverse("notifications"), unread="on")
    assert _badge(client) is None

    found = _page(client, reverse("notifications"), q="ancienne")
    assert found.count('data-testid="list-row"') == 1
    rows = _csv_rows(client, reverse("notifications"), q="alerte 01")
    assert [row[0] for row in rows[1:]] == ["Alerte 01"]


def test_an_export_too_large_asks_to_narrow_the_filters(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _requests(world, [("Un", "1000"), ("Deux", "1000"), ("Trois", "1000")])
    monkeypatch.setattr(listing, "EXPORT_MAX_ROWS", 2)
    client = client_for(world.alice.credit_manager)
    answer = client.get(reverse("request_list"), {"q": "", "sort": "buyer", "export": "xlsx"})
    assert answer.status_code == 302 and "export" not in answer["Location"]
    assert "sort=buyer" in answer["Location"]
    assert "affinez la recherche" in _page(client, answer["Location"])
    assert len(_csv_rows(client, reverse("request_list"), q="Deux")) == 2

"""The guarantees in force found by the period's bounds as plain dates (issue 14): the same rows
as `period @> day`, read through the `guarantee_in_force` index even under row-level security
(the range operator is not leakproof, so PostgreSQL would check the tenant policy on the whole
book first); the requests list sorts its status in the workflow's order; empty cells export
blank."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.urls import reverse
from django_scopes import scopes_disabled
from openpyxl import load_workbook

from portal.models import Role, User
from portal.tenancy import policyholder_scope_for, tenant_scope
from portal.timeutils import business_today
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.rls import ordinary_role
from tests.support.underwriting import submit
from tests.support.world import Tenant, World
from underwriting import selectors, tables
from underwriting.models import (
    Buyer,
    Guarantee,
    GuaranteeChange,
    GuaranteeRequest,
    RequestStatus,
)

pytestmark = pytest.mark.django_db


def _period(tenant: Tenant, name: str, since: int, until: int | None, **fields: object) -> Buyer:
    """A buyer of `tenant` with one period from today + `since` days to today + `until`
    (exclusive; None: open)."""
    today = business_today()
    with scopes_disabled():
        buyer = BuyerFactory.create(name=name)
        GuaranteeFactory.create(
            contract=tenant.contract,
            buyer=buyer,
            period=DateRange(
                today + timedelta(days=since),
                today + timedelta(days=until) if until is not None else None,
                "[)",
            ),
            **fields,
        )
    return buyer


def _book(world: World) -> None:
    _period(world.alice, "Fini hier", -30, 0)  # its last day was yesterday
    _period(world.alice, "Ouvert ce matin", 0, None)
    _period(world.alice, "Demain seulement", 1, None)
    _period(world.alice, "Saison en cours", -5, 1)  # today is its last day
    _period(world.alice, "Ouvert depuis longtemps", -400, None)
    _period(world.bob, "Chez Bob", -10, None)


def test_in_force_by_the_bounds_is_in_force_by_the_range(world: World) -> None:
    _book(world)
    today = business_today()
    with scopes_disabled():
        for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
            by_bounds = selectors.guarantees_in_force(on=day).values_list("pk", flat=True)
            by_range = Guarantee.objects.filter(period__contains=day).values_list("pk", flat=True)
            assert set(by_bounds) == set(by_range), day

    page = client_for(world.alice.credit_manager).get(reverse("guarantee_list")).content.decode()
    assert page.count('data-testid="list-row"') == 3
    for shown in ("Ouvert ce matin", "Saison en cours", "Ouvert depuis longtemps"):
        assert shown in page
    for hidden in ("Fini hier", "Demain seulement", "Chez Bob"):
        assert hidden not in page


def test_a_period_without_a_first_day_is_refused(world: World) -> None:
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        GuaranteeFactory.create(
            contract=world.alice.contract,
            buyer=BuyerFactory.create(),
            period=DateRange(None, business_today(), "[)"),
        )


def _history(tenant: Tenant, days: int) -> None:
    """`days` one-day periods of one buyer, all ended: the bulk of a book that has run a while."""
    today = business_today()
    with scopes_disabled():
        buyer = BuyerFactory.create(name="Historique")
        Guarantee.objects.bulk_create(
            Guarantee(
                contract=tenant.contract,
                policyholder=tenant.organisation,
                buyer=buyer,
                amount=Decimal("1000"),
                primary_amount=Decimal("1000"),
                period=DateRange(
                    today - timedelta(days=day + 1), today - timedelta(days=day), "[)"
                ),
                change=GuaranteeChange.GRANT,
            )
            for day in range(days)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE underwriting_guarantee")


def _plan(user: User) -> str:
    """The plan of the guarantee list's totals query as `user` sees it, sequential scans
    priced out (on a small table PostgreSQL would rightly read it whole)."""
    with ordinary_role(), tenant_scope(policyholder_scope_for(user)):
        queryset = tables.guarantees_listed(selectors.guarantees_in_force_listed()).order_by()
        sql, params = queryset.values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            # The list's own SQL, compiled by Django from the queryset above.
            cursor.execute(f"EXPLAIN SELECT count(*) FROM ({sql}) s", params)  # noqa: S608
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET LOCAL enable_seqscan = on")
    return plan


def test_the_list_reads_the_in_force_index_under_row_level_security(world: World) -> None:
    _book(world)
    _history(world.alice, 3000)
    # Not alice's 3 000 ended periods checked one by one against the tenant policy, but the
    # index on the bounds: `period @> today` could not use any index under the policy.
    assert "guarantee_in_force" in _plan(world.alice.credit_manager)
    assert "guarantee_in_force" in _plan(world.staff[Role.ARBITER])


def test_the_requests_status_sorts_in_the_workflow_order(world: World) -> None:
    made = []
    for status in (RequestStatus.WITHDRAWN, RequestStatus.APPROVED, RequestStatus.OPEN):
        with scopes_disabled():
            request = submit(world.alice, BuyerFactory.create(name=f"Acheteur {status}"))
            GuaranteeRequest.objects.filter(pk=request.pk).update(status=status)
        made.append(request)
    client = client_for(world.alice.credit_manager)
    page = client.get(reverse("request_list"), {"sort": "status"}).content.decode()
    waiting, granted, withdrawn = (
        page.index(f"Acheteur {status}")
        for status in (RequestStatus.OPEN, RequestStatus.APPROVED, RequestStatus.WITHDRAWN)
    )
    # By the codes it would be approved, open, withdrawn.
    assert waiting < granted < withdrawn
    page = client.get(reverse("request_list"), {"sort": "-status"}).content.decode()
    assert page.index("Acheteur withdrawn") < page.index("Acheteur open")


def test_empty_amounts_and_days_export_as_blank_cells(world: World) -> None:
    _period(world.alice, "Sans encours", -3, None, exposure=None, amount=Decimal("1000"))
    client = client_for(world.alice.credit_manager)
    url = reverse("guarantee_list")
    page = client.get(url).content.decode()
    assert "—" in page  # on the page, an empty cell is a dash

    answer = client.get(url, {"export": "csv"})
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    header, row = rows[0], rows[1]
    cells = dict(zip(header, row, strict=True))
    assert cells["Encours"] == "" and cells["Couvert"] == "" and cells["Jusqu'au"] == ""
    assert "—" not in answer.content.decode("utf-8-sig")

    sheet = load_workbook(io.BytesIO(client.get(url, {"export": "xlsx"}).content)).active
    assert sheet is not None
    values = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    by_header = {str(name): value for name, value in zip(values[0], values[1], strict=True)}
    assert by_header["Encours"] is None and by_header["Couvert"] is None
    assert by_header["Jusqu'au"] is None

"""Who sees which invoices, in pages, the API and the CSV exports; finance ops pages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from billing.models import BillingRun, BillingRunStatus, Invoice
from billing.services import invoice_issue
from tests.support.billing import guarantee, issued
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory, ContractFactory
from tests.support.scopes import insurer_scope
from tests.support.world import World

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def invoices(world: World) -> dict[str, Invoice]:
    """One October invoice for alice and bob; charlie has nothing in force."""
    by_name: dict[str, Invoice] = {}
    for name in ("alice", "bob"):
        contract = world.tenant(name).contract
        guarantee(contract, BuyerFactory.create(), "40000", date(2026, 1, 1))
        with insurer_scope():
            by_name[name] = issued(contract, OCTOBER)
    return by_name


def csv_numbers(content: bytes) -> list[str]:
    rows = content.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("numero;type;")
    return [row.split(";")[0] for row in rows[1:]]


def test_each_policyholder_lists_only_its_own_invoices(
    world: World, invoices: dict[str, Invoice]
) -> None:
    alice, bob = invoices["alice"], invoices["bob"]
    page = client_for(world.alice.finance).get("/invoices/").content.decode()
    assert alice.number in page and bob.number not in page
    api = client_for(world.bob.finance).get("/api/v1/invoices/").json()
    assert [row["number"] for row in api["results"]] == [bob.number]
    assert client_for(world.charlie.finance).get("/api/v1/invoices/").json()["count"] == 0


def test_the_mandated_broker_sees_its_clients_invoices_only(
    world: World, invoices: dict[str, Invoice]
) -> None:
    client = client_for(world.broker_user)
    api = client.get("/api/v1/invoices/").json()
    assert [row["number"] for row in api["results"]] == [invoices["alice"].number]
    assert client.get(f"/invoices/{invoices['bob'].pk}/pdf/").status_code == 404


def test_exports_hold_only_the_callers_rows(world: World, invoices: dict[str, Invoice]) -> None:
    alice, bob = invoices["alice"].number, invoices["bob"].number
    assert csv_numbers(client_for(world.alice.finance).get("/invoices/export.csv").content) == [
        alice
    ]
    assert csv_numbers(
        client_for(world.bob.users["org_admin"]).get("/api/v1/invoices/export/").content
    ) == [bob]
    assert csv_numbers(client_for(world.charlie.finance).get("/invoices/export.csv").content) == []
    ops = client_for(world.staff["finance_ops"]).get("/invoices/export.csv?month=2026-10")
    assert sorted(csv_numbers(ops.content)) == sorted([alice, bob])
    # 40 000 × 0.0012 = 48.00, written with a decimal comma
    assert ";48,00;" in ops.content.decode("utf-8-sig")


@pytest.mark.parametrize("path", ["/invoices/", "/invoices/export.csv", "/billing/"])
def test_a_credit_manager_gets_404_on_invoice_pages(world: World, path: str) -> None:
    assert client_for(world.alice.credit_manager).get(path).status_code == 404


@pytest.mark.parametrize("role", ["arbiter", "claims_handler"])
def test_insurer_staff_outside_finance_get_404(world: World, role: str) -> None:
    client = client_for(world.staff[role])
    assert client.get("/invoices/").status_code == 404
    assert client.get("/billing/").status_code == 404
    assert client.get("/api/v1/billing-runs/").json()["count"] == 0


def test_wholesaler_finance_gets_404_on_the_billing_pages(world: World) -> None:
    client = client_for(world.alice.finance)
    assert client.get("/billing/").status_code == 404
    assert client.post("/billing/runs/", {"month": "2026-10"}).status_code == 404
    assert client.post("/api/v1/billing-runs/", {"month": "2026-10"}).status_code == 404
    assert not BillingRun.objects.exists()


def test_finance_ops_see_every_invoice_with_totals_per_month(
    world: World, invoices: dict[str, Invoice]
) -> None:
    page = client_for(world.staff["finance_ops"]).get("/invoices/?month=2026-10")
    assert page.status_code == 200
    totals = page.context["totals"]
    # alice 48.00 + bob 48.00
    assert [(row["month"], row["invoices"], row["total"]) for row in totals] == [(OCTOBER, 2, 96)]


def test_the_invoice_list_does_not_query_per_row(
    world: World, django_assert_max_num_queries
) -> None:
    contract = world.alice.contract
    guarantee(contract, BuyerFactory.create(), "40000", date(2026, 1, 1))
    with insurer_scope():
        for month in range(1, 11):
            invoice_issue(contract=contract, month=date(2026, month, 1))
    client = client_for(world.staff["finance_ops"])
    client.get("/invoices/")  # warm the session and user caches
    # (12, whatever the number of rows: session, user, django-otp's device, the scope, the
    # count, the page, the totals of the amount columns, the policyholder filter's choices,
    # the totals by month...)
    with django_assert_max_num_queries(12):
        response = client.get("/invoices/")
    assert response.content.decode().count("/pdf/") == 10


@pytest.mark.usefixtures("eager_celery")
def test_finance_ops_start_a_run_from_the_page_and_watch_it(
    world: World, invoices: dict[str, Invoice], django_capture_on_commit_callbacks
) -> None:
    late = ContractFactory.create()  # a third policyholder, not invoiced yet
    guarantee(late, BuyerFactory.create(), "10000", date(2026, 9, 1))
    client = client_for(world.staff["finance_ops"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/billing/runs/", {"month": "2026-10"})
    run = BillingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/billing/runs/{run.pk}/"
    # alice and bob were invoiced already; the third contract is billed now
    assert (run.status, run.total, run.issued, run.skipped) == (
        BillingRunStatus.FINISHED,
        3,
        1,
        2,
    )
    progress = client.get(f"/billing/runs/{run.pk}/progress/").content.decode()
    assert "every 2s" not in progress  # a finished run is not polled
    BillingRun.objects.filter(pk=run.pk).update(status=BillingRunStatus.RUNNING)
    assert "every 2s" in client.get(f"/billing/runs/{run.pk}/progress/").content.decode()
    assert "every 2s" in client.get("/billing/runs/table/").content.decode()
    assert client.get("/billing/").status_code == 200


def test_a_future_month_is_refused_on_the_page(world: World) -> None:
    client = client_for(world.staff["finance_ops"])
    assert client.post("/billing/runs/", {"month": "2999-01"}).status_code == 400
    assert client.post("/api/v1/billing-runs/", {"month": "2999-01"}).status_code == 400
    assert not BillingRun.objects.exists()


def test_finance_ops_issue_a_credit_note_from_the_page_and_the_api(
    world: World, invoices: dict[str, Invoice]
) -> None:
    client = client_for(world.staff["finance_ops"])
    response = client.post(
        f"/invoices/{invoices['alice'].pk}/credit-note/",
        {"full": "0", "amount": "8", "reason": "Geste", "confirm": "1"},
    )
    assert response.status_code == 302
    api = client.post(
        f"/api/v1/invoices/{invoices['bob'].pk}/credit-note/",
        {"full": True, "reason": "Annulation"},
        content_type="application/json",
    )
    assert api.status_code == 201 and api.json()["total"] == "-48.00"
    refused = client_for(world.alice.finance).post(
        f"/api/v1/invoices/{invoices['alice'].pk}/credit-note/",
        {"full": True, "reason": "Moi aussi"},
        content_type="application/json",
    )
    assert refused.status_code == 404
    with insurer_scope():
        assert Invoice.objects.filter(kind="credit_note").count() == 2
    detail = client_for(world.alice.finance).get(f"/invoices/{invoices['alice'].pk}/")
    assert detail.status_code == 200 and "Geste" in detail.content.decode()
    assert detail.context["credit_form"] is None  # only finance ops issue credit notes


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-1", "2026-10\n", "2026-\n10", "x" * 300, "99999999999999999999-01"]
)
def test_a_bad_month_filter_is_a_400_naming_the_month_in_the_api_and_a_message_on_the_page(
    world: World, invoices: dict[str, Invoice], month: str
) -> None:
    client = client_for(world.staff["finance_ops"])
    api = client.get("/api/v1/invoices/", {"month": month})
    assert api.status_code == 400 and api.json()["field"] == "month"
    page = client.get("/invoices/", {"month": month})
    assert page.status_code == 200 and page.context["table"].paginator.count == 2
    assert "AAAA-MM" in page.content.decode()
    export = client.get("/invoices/export.csv", {"month": month})
    assert export.status_code == 200 and "factures-toutes.csv" in export["Content-Disposition"]


def test_the_month_filter_is_the_same_in_the_api_and_the_page(
    world: World, invoices: dict[str, Invoice]
) -> None:
    client = client_for(world.staff["finance_ops"])
    assert client.get("/api/v1/invoices/", {"month": "2026-09"}).json()["count"] == 0
    assert client.get("/api/v1/invoices/", {"month": "2026-10"}).json()["count"] == 2
    page = client.get("/invoices/", {"month": "2026-09"})
    assert page.context["filter"].form.cleaned_data["month"] == "2026-09"
    assert page.context["table"].paginator.count == 0


def test_a_bad_month_for_a_billing_run_is_a_400_naming_the_month(world: World) -> None:
    client = client_for(world.staff["finance_ops"])
    api = client.post("/api/v1/billing-runs/", {"month": "2026-1O"})
    assert api.status_code == 400 and api.json()["field"] == "month"
    assert client.post("/billing/runs/", {"month": "octobre"}).status_code == 400
    assert not BillingRun.objects.exists()


def test_a_run_silent_for_a_while_is_shown_as_interrupted_and_no_longer_polled(
    world: World,
) -> None:
    run = BillingRun.objects.create(
        month=OCTOBER,
        trigger="command",
        status=BillingRunStatus.RUNNING,
        updated_at=timezone.now() - timedelta(hours=1),
    )
    page = client_for(world.staff["finance_ops"]).get(f"/billing/runs/{run.pk}/progress/")
    assert 'data-testid="stalled"' in page.content.decode()
    assert "every 2s" not in page.content.decode()

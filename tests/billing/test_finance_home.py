"""The finance ops home: the last billed month's premium and its trend, the invoices to collect
and the overdue ones (with links to the filtered list), the last billing runs."""

from __future__ import annotations

from decimal import Decimal

from billing import services
from billing.premium import month_before, month_first
from portal.timeutils import business_today
from tests.support.clients import client_for
from tests.support.payments import due_days_ago, invoice_for
from tests.support.scopes import insurer_scope
from tests.support.world import World


def test_the_finance_home_shows_the_premium_its_trend_and_what_is_due(world: World) -> None:
    last = month_before(month_first(business_today()))
    before = month_before(last)
    # The month before: alice 40 000 in force → 48.00 HT, no tax.
    invoice_for(world.alice, "40000", tax=False, month=before)
    # Last month: alice 40 000 + 50 000 → 108.00 + 9 % = 117.72; bob 1 200.00 + 108.00.
    alice = due_days_ago(invoice_for(world.alice, "50000", month=last), 5)
    invoice_for(world.bob, "1000000", month=last)
    with insurer_scope():
        services.payment_record(
            invoice=alice,
            received_on=business_today(),
            amount=Decimal("15.40"),
            reference="",
            actor=world.staff["finance_ops"],
        )
    response = client_for(world.staff["finance_ops"]).get("/finance/")
    assert response.status_code == 200
    page = response.content.decode()
    figure = page.split('data-testid="premium-month-total">')[1].split("<")[0]
    assert figure == "1\u202f308,00 €"  # 108.00 + 1 200.00 before tax
    # (1 308 − 48) / 48 = +2 625 %
    assert page.split('data-testid="premium-trend">')[1].split("<")[0] == "+2\u202f625,0 %"
    context = response.context
    # 48.00 + (117.72 − 15.40) + 1 308.00 to collect; alice's last invoice is overdue.
    assert context["receivables"]["open"] == {"count": 3, "amount": Decimal("1458.32")}
    assert context["receivables"]["overdue"] == {"count": 1, "amount": Decimal("102.32")}
    assert 'href="/invoices/?status=overdue"' in page
    assert [point.premium for point in context["premium_series"][-2:]] == [
        Decimal("48.00"),
        Decimal("1308.00"),
    ]
    assert 'data-testid="premium-chart"' in page


def test_only_insurer_finance_reaches_the_finance_home(world: World) -> None:
    for user in (world.alice.finance, world.broker_user, world.staff["arbiter"]):
        assert client_for(user).get("/finance/").status_code == 404


def test_the_finance_home_refresh_keeps_its_five_runs(world: World) -> None:
    from billing.home import RUNS_SHOWN
    from billing.models import BillingRun, BillingRunTrigger

    month = month_first(business_today())
    for _ in range(RUNS_SHOWN + 3):
        month = month_before(month)
        BillingRun.objects.create(month=month, trigger=BillingRunTrigger.COMMAND)
    client = client_for(world.staff["finance_ops"])
    home = client.get("/finance/").content.decode()
    assert f'hx-get="/billing/runs/table/?limit={RUNS_SHOWN}"' in home
    polled = client.get(f"/billing/runs/table/?limit={RUNS_SHOWN}").content.decode()
    assert polled.count('href="/billing/runs/') == RUNS_SHOWN
    # The billing page's own table still lists every run.
    everything = client.get("/billing/runs/table/").content.decode()
    assert everything.count('href="/billing/runs/') == RUNS_SHOWN + 3


def test_a_running_billing_is_announced_in_a_live_region_the_refresh_keeps(world: World) -> None:
    from billing.models import BillingRun, BillingRunStatus, BillingRunTrigger

    month = month_before(month_first(business_today()))
    BillingRun.objects.create(
        month=month, trigger=BillingRunTrigger.COMMAND, status=BillingRunStatus.RUNNING, total=4
    )
    client = client_for(world.staff["finance_ops"])
    for page in ("/finance/", "/billing/"):
        html = client.get(page).content.decode()
        region = html.split('<p id="runs-status"')[1].split("</p>")[0]
        assert 'aria-live="polite"' in region
        assert f"Facturation de {month:%m/%Y} : 0 %." in region
    # The polled table carries the status out of band, for htmx to put into the region.
    polled = client.get("/billing/runs/table/?limit=5").content.decode()
    assert 'hx-swap-oob="innerHTML"' in polled.split('<p id="runs-status"')[1].split(">")[0]

"""The claims handler's pages: the queue and its filters, the claim file with its computation
and its actions for the current status (each shown only to who may use it), the whole handling
path through the pages with the seed case's figures, the countersignature by a senior, the CSV
export of what the filters select, and 404 for anyone outside the insurer."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from claims import services
from claims.models import Claim, ClaimStatus
from portal.models import Role, User
from portal.timeutils import business_today
from tests.support.claims import (
    covered_buyer,
    declared,
    handler,
    no_waiting,
    recently_due,
    settled,
    unpaid,
)
from tests.support.clients import client_for
from tests.support.presentation import NARROW_NBSP
from tests.support.scopes import acting_as, insurer_scope
from tests.support.world import Tenant, World

pytestmark = pytest.mark.django_db


def _fr(amount: str) -> str:
    """ "36 000,00" as the pages print it (a narrow no-break space between thousands)."""
    return amount.replace(" ", NARROW_NBSP)


def _claim(tenant: Tenant, amount: str = "100000", *, waiting: bool = False) -> Claim:
    """The seed case: one invoice on a buyer with P 40 000 and T 40 000, q 90 %."""
    if not waiting:
        no_waiting(tenant)
    buyer = covered_buyer(tenant)
    return declared(tenant, buyer, unpaid(f"F-{buyer.siren}", amount, delivered=recently_due()))


def _authority(user: User, amount: str) -> None:
    user.authority_amount = Decimal(amount)
    user.save(update_fields=["authority_amount"])


def _reload(claim: Claim) -> Claim:
    with insurer_scope():
        return Claim.objects.get(pk=claim.pk)


def _act(client: Client, claim: Claim, action: str, data: dict[str, str] | None = None) -> int:
    url = reverse("claim_action", args=[claim.pk, action])
    return int(client.post(url, data or {}).status_code)


def _file(client: Client, claim: Claim) -> str:
    response = client.get(reverse("claim_handle", args=[claim.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _queue(client: Client, query: str = "") -> str:
    response = client.get(reverse("claim_queue") + query)
    assert response.status_code == 200
    return response.content.decode()


# --- the queue -----------------------------------------------------------------------------------


def test_the_queue_lists_open_claims_first_then_the_oldest_declared(world: World) -> None:
    declined = _claim(world.alice)
    older = _claim(world.bob)
    newer = _claim(world.alice)
    actor = handler(world)
    with acting_as(actor):
        services.claim_decline(claim_id=declined.pk, actor=actor, reason="infondé")

    page = _queue(client_for(actor))

    positions = [page.index(claim.number) for claim in (older, newer, declined)]
    assert positions == sorted(positions)
    assert f"3 sinistres · montant déclaré <strong>{_fr('300 000,00')} €" in page
    assert reverse("claim_handle", args=[older.pk]) in page


def test_the_queue_shows_when_each_waiting_period_ends(world: World) -> None:
    claim = _claim(world.alice, waiting=True)
    with insurer_scope():
        invoice = claim.invoices.get()
    ends = invoice.due_date + timedelta(days=world.alice.contract.waiting_period_days)

    page = _queue(client_for(handler(world)))

    assert ends.strftime("%d/%m/%Y") in page


def test_the_filters_select_by_status_handler_and_text(world: World) -> None:
    mine = _claim(world.alice)
    unassigned = _claim(world.bob)
    actor = handler(world)
    with acting_as(actor):
        services.claim_recovery_start(claim_id=mine.pk, actor=actor)  # assigns it to me
    client = client_for(actor)

    assert unassigned.number not in _queue(client, "?handler=mine")
    assert mine.number in _queue(client, "?handler=mine")
    page = _queue(client, "?handler=unassigned")
    assert unassigned.number in page and mine.number not in page
    page = _queue(client, f"?status={ClaimStatus.IN_RECOVERY}")
    assert mine.number in page and unassigned.number not in page
    page = _queue(client, "?q=bob")  # the policyholder's name
    assert unassigned.number in page and mine.number not in page
    page = _queue(client, f"?q={mine.number}")
    assert mine.number in page and unassigned.number not in page
    page = _queue(client, "?status=open&handler=&q=")
    assert mine.number in page and unassigned.number in page


@pytest.mark.parametrize(
    "query",
    ["?status=nonsense", "?handler=12345", "?page=0", "?page=abc", "?q=" + "x" * 101],
)
def test_a_bad_filter_value_is_a_form_error_not_a_crash(world: World, query: str) -> None:
    _claim(world.alice)
    client = client_for(handler(world))

    page = _queue(client, query)

    assert 'data-testid="filter-errors"' in page
    assert 'data-testid="claim-queue"' not in page
    export = client.get(reverse("claim_export") + query)
    assert export.status_code == 200
    assert len(export.content.decode("utf-8-sig").splitlines()) == 1  # the header only


def test_a_page_past_the_last_shows_the_last_page(world: World) -> None:
    claim = _claim(world.alice)
    assert claim.number in _queue(client_for(handler(world)), "?page=99")


def test_seniors_filter_the_indemnities_waiting_for_their_countersignature(
    world: World,
) -> None:
    waiting, other = _claim(world.alice), _claim(world.bob)
    actor = handler(world)
    _authority(actor, "10000")
    for claim in (waiting, other):
        settled(world, claim)
        with acting_as(actor):
            services.claim_indemnity_compute(claim_id=claim.pk, actor=actor)
    with acting_as(actor):
        services.claim_indemnity_approve(claim_id=waiting.pk, actor=actor)

    page = _queue(client_for(world.staff[Role.SENIOR_ARBITER]), "?status=to_countersign")

    assert waiting.number in page and other.number not in page
    # Only who countersigns has the filter: for the handler it is not a choice.
    assert 'data-testid="filter-errors"' in _queue(client_for(actor), "?status=to_countersign")


# --- the whole path through the pages ------------------------------------------------------------


def test_the_handler_takes_the_seed_case_from_recovery_to_closing(world: World) -> None:
    claim = _claim(world.alice)
    actor = handler(world)
    _authority(actor, "50000")
    client = client_for(actor)
    today = business_today().isoformat()

    page = _file(client, claim)
    assert 'data-testid="computation-preview"' in page  # before it is computed
    assert 'data-testid="action-compute"' not in page
    assert _act(client, claim, "recovery_start", {"recovery_start-note": "relance"}) == 302
    assert (
        _act(
            client,
            claim,
            "primary_settle",
            {"primary_settle-amount": "36 000,00", "primary_settle-settled_on": today},
        )
        == 302
    )
    assert _reload(claim).primary_paid == Decimal("36000.00")
    assert _act(client, claim, "compute") == 302

    page = _file(client, claim)
    assert 'data-testid="computation-preview"' not in page
    assert f"0,00 → {_fr('100 000,00')} €" in page
    assert f"[{_fr('40 000,00')} ; {_fr('80 000,00')}] €" in page
    assert f'data-testid="computation-amount">{_fr("36 000,00")} €' in page
    assert "× quotité 90 %" in page
    assert "est dans votre pouvoir" in page

    assert _act(client, claim, "approve") == 302
    assert _reload(claim).status == ClaimStatus.APPROVED
    assert (
        _act(client, claim, "pay", {"pay-paid_on": today, "pay-reference": "VIR-2026-001"}) == 302
    )
    response = client.post(
        reverse("claim_action", args=[claim.pk, "recovery"]),
        {"recovery-amount": "7200", "recovery-received_on": today},
        follow=True,
    )
    # 7 200 recovered after 36 000 + 36 000 paid: half is the top-up's.
    assert f"{_fr('3 600,00')} € de plus à reverser" in response.content.decode()
    assert _act(client, claim, "close", {"close-note": "dossier complet"}) == 302

    claim = _reload(claim)
    assert claim.status == ClaimStatus.CLOSED
    assert (claim.indemnity, claim.due_back) == (Decimal("36000.00"), Decimal("3600.00"))
    page = _file(client, claim)
    assert "VIR-2026-001" in page
    assert "Sinistre clos" in page and "Recouvrement engagé" in page  # the timeline


def test_a_buyer_payment_reduces_the_previewed_loss(world: World) -> None:
    claim = _claim(world.alice)
    client = client_for(handler(world))

    status = _act(
        client,
        claim,
        "buyer_payment",
        {
            "buyer_payment-amount": "10000",
            "buyer_payment-received_on": business_today().isoformat(),
        },
    )

    assert status == 302
    page = _file(client, claim)
    assert f"0,00 → {_fr('90 000,00')} €" in page
    assert f'data-testid="computation-amount">{_fr("36 000,00")} €' in page


def test_the_buyer_paying_everything_recovers_the_claim(world: World) -> None:
    claim = _claim(world.alice)
    client = client_for(handler(world))

    assert _act(client, claim, "recovered", {"recovered-note": "payé"}) == 302
    assert _act(client, claim, "close") == 302
    assert _reload(claim).status == ClaimStatus.CLOSED


def test_the_primary_refusal_declines_the_claim(world: World) -> None:
    claim = _claim(world.alice)
    client = client_for(handler(world))
    data = {"primary_decline-settled_on": business_today().isoformat()}

    page = client.post(reverse("claim_action", args=[claim.pk, "primary_decline"]), data)
    assert page.status_code == 400
    assert "Ce champ est obligatoire" in page.content.decode()

    data["primary_decline-reason"] = "déchéance"
    assert _act(client, claim, "primary_decline", data) == 302
    claim = _reload(claim)
    assert claim.status == ClaimStatus.DECLINED
    assert "déchéance" in claim.decline_reason


def test_a_domain_error_is_shown_on_the_field_it_names(world: World) -> None:
    claim = _claim(world.alice)
    client = client_for(handler(world))
    tomorrow = (business_today() + timedelta(days=1)).isoformat()

    response = client.post(
        reverse("claim_action", args=[claim.pk, "primary_settle"]),
        {"primary_settle-amount": "36000", "primary_settle-settled_on": tomorrow},
    )

    assert response.status_code == 400
    form = response.context["actions"]
    errors = {name: f.errors for name, _title, f in form if f.is_bound}
    assert errors == {"primary_settle": {"settled_on": ["Cette date est dans le futur."]}}
    assert _reload(claim).status == ClaimStatus.DECLARED


def test_computing_waits_for_the_waiting_period_and_says_until_when(world: World) -> None:
    claim = _claim(world.alice, waiting=True)
    settled(world, claim)
    client = client_for(handler(world))

    page = _file(client, claim)

    assert 'data-testid="compute-waiting"' in page
    assert 'data-testid="do-compute"' not in page
    response = client.post(reverse("claim_action", args=[claim.pk, "compute"]))
    assert response.status_code == 409
    assert "Le délai de carence court jusqu" in response.content.decode()


# --- the countersignature ------------------------------------------------------------------------


def test_above_the_handlers_authority_a_senior_countersigns_through_the_pages(
    world: World,
) -> None:
    claim = _claim(world.alice)
    actor = handler(world)
    _authority(actor, "10000")
    settled(world, claim)
    client = client_for(actor)
    assert _act(client, claim, "compute") == 302
    assert "dépasse votre pouvoir" in _file(client, claim)

    response = client.post(reverse("claim_action", args=[claim.pk, "approve"]), follow=True)
    assert "attend une contre-signature" in response.content.decode()
    assert _reload(claim).status == ClaimStatus.AWAITING_COUNTERSIGNATURE
    assert 'data-testid="action-countersign"' not in _file(client, claim)
    assert _act(client, claim, "countersign", {"countersign-approve": "yes"}) == 404

    senior = client_for(world.staff[Role.SENIOR_ARBITER])
    assert 'data-testid="action-countersign"' in _file(senior, claim)
    assert _act(senior, claim, "countersign", {"countersign-approve": "no"}) == 400
    assert _act(senior, claim, "countersign", {"countersign-approve": "yes"}) == 302

    claim = _reload(claim)
    assert claim.status == ClaimStatus.APPROVED
    assert claim.countersigned_by == world.staff[Role.SENIOR_ARBITER]


def test_a_rejected_countersignature_needs_a_reason_and_returns_to_the_handler(
    world: World,
) -> None:
    claim = _claim(world.alice)
    settled(world, claim)
    actor = handler(world)
    with acting_as(actor):
        services.claim_indemnity_compute(claim_id=claim.pk, actor=actor)
        services.claim_indemnity_approve(claim_id=claim.pk, actor=actor)  # no authority
    admin = client_for(world.staff[Role.ADMIN])

    response = admin.post(
        reverse("claim_action", args=[claim.pk, "countersign"]), {"countersign-approve": "no"}
    )
    assert response.status_code == 400
    assert "Motivez le rejet." in response.content.decode()

    data = {"countersign-approve": "no", "countersign-note": "pièces manquantes"}
    assert _act(admin, claim, "countersign", data) == 302
    assert _reload(claim).status == ClaimStatus.INDEMNITY_COMPUTED


# --- who sees which button -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ARBITER, Role.SENIOR_ARBITER, Role.FINANCE_OPS])
def test_other_insurer_roles_read_the_claim_without_its_buttons(world: World, role: str) -> None:
    claim = _claim(world.alice)
    client = client_for(world.staff[role])

    page = _file(client, claim)

    assert claim.number in page and 'data-testid="computation"' in page
    assert 'data-testid="claim-actions"' not in page
    assert _act(client, claim, "recovery_start") == 404
    assert _reload(claim).status == ClaimStatus.DECLARED


def test_the_arbiter_is_told_the_file_is_read_only(world: World) -> None:
    claim = _claim(world.alice)
    assert 'data-testid="read-only"' in _file(client_for(world.staff[Role.ARBITER]), claim)
    assert 'data-testid="read-only"' not in _file(client_for(handler(world)), claim)


def test_the_handler_sees_only_the_actions_of_the_current_status(world: World) -> None:
    claim = _claim(world.alice)
    client = client_for(handler(world))

    page = _file(client, claim)

    for shown in ("assign", "recovery_start", "buyer_payment", "primary_settle", "decline"):
        assert f'data-testid="action-{shown}"' in page, shown
    for hidden in ("compute", "approve", "countersign", "pay", "recovery", "close"):
        assert f'data-testid="action-{hidden}"' not in page, hidden


def test_the_buyer_links_to_its_risk_file_for_who_may_open_it(world: World) -> None:
    claim = _claim(world.alice)
    link = reverse("buyer_risk_file", args=[claim.buyer_id])

    assert link in _file(client_for(world.staff[Role.ARBITER]), claim)
    # The risk file is the arbiters' page: the handler is shown the name only.
    assert link not in _file(client_for(handler(world)), claim)


def test_an_unknown_action_is_404(world: World) -> None:
    claim = _claim(world.alice)
    assert _act(client_for(handler(world)), claim, "explode") == 404


def test_the_handler_assigns_and_unassigns(world: World) -> None:
    claim = _claim(world.alice)
    admin = world.staff[Role.ADMIN]
    client = client_for(handler(world))

    assert _act(client, claim, "assign", {"assign-handler": str(admin.pk)}) == 302
    assert _reload(claim).handler == admin
    assert _act(client, claim, "assign", {"assign-handler": ""}) == 302
    assert _reload(claim).handler is None
    arbiter = world.staff[Role.ARBITER]
    assert _act(client, claim, "assign", {"assign-handler": str(arbiter.pk)}) == 400


# --- outside the insurer -------------------------------------------------------------------------


def test_policyholder_users_and_brokers_get_404_on_every_back_office_page(world: World) -> None:
    claim = _claim(world.alice)
    urls = [
        reverse("claim_queue"),
        reverse("claim_export"),
        reverse("claim_handle", args=[claim.pk]),
    ]
    for user in [*world.alice.users.values(), world.broker_user]:
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user.username, url)
        assert _act(client, claim, "recovery_start") == 404, user.username
    assert _reload(claim).status == ClaimStatus.DECLARED


# --- the export ----------------------------------------------------------------------------------


def _rows(client: Client, query: str = "") -> list[list[str]]:
    response = client.get(reverse("claim_export") + query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    content = response.content.decode("utf-8")
    assert content.startswith("\ufeff")
    return list(csv.reader(io.StringIO(content.removeprefix("\ufeff")), delimiter=";"))


def test_the_export_lists_the_claims_with_french_decimals(world: World) -> None:
    claim = _claim(world.alice)
    settled(world, claim)
    actor = handler(world)
    with acting_as(actor):
        services.claim_indemnity_compute(claim_id=claim.pk, actor=actor)

    header, row = _rows(client_for(world.staff[Role.FINANCE_OPS]))

    assert header[:4] == ["numero", "assure", "acheteur", "siren"]
    assert row == [
        claim.number,
        world.alice.organisation.name,
        claim.buyer.name,
        claim.buyer.siren,
        "Indemnité calculée",
        business_today().isoformat(),
        "1",
        "100000,00",
        "36000,00",
        "36000,00",
        "",
        "0,00",
    ]


def test_the_export_follows_the_queue_filters(world: World) -> None:
    alice, bob = _claim(world.alice), _claim(world.bob)
    actor = handler(world)
    with acting_as(actor):
        services.claim_recovery_start(claim_id=alice.pk, actor=actor)
    client = client_for(actor)

    assert [row[0] for row in _rows(client)[1:]] == [alice.number, bob.number]
    assert [row[0] for row in _rows(client, "?status=in_recovery")[1:]] == [alice.number]
    assert [row[0] for row in _rows(client, "?handler=unassigned")[1:]] == [bob.number]
    assert [row[0] for row in _rows(client, "?q=bob")[1:]] == [bob.number]

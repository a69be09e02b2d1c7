"""Claims through their services, with hand-computed figures: the seed case, a loss inside the
primary, a loss above total cover, a top-up reduced between two deliveries, a liquidation that
cuts the waiting period short, a late declaration, a credit term beyond the maximum, a partial
payment by the buyer, a recovery after payment; then the statuses, the countersignature, the
documents checked by content and the notifications."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange

from claims import services
from claims.models import Claim, ClaimInvoice, ClaimStatus, Exclusion, WaitingReason
from portal.errors import Conflict, Forbidden, RuleViolation
from portal.models import Notification, Role
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
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.monitoring import LIQUIDATION, imported, json_lines, notice
from tests.support.scopes import acting_as, insurer_scope
from tests.support.world import World

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _reads_as_the_insurer() -> Iterator[None]:
    """The assertions read across tenants; each service call enters its actor's own scope."""
    with insurer_scope():
        yield


def _computed(world: World, claim: Claim, primary_paid: str = "36000") -> Claim:
    settled(world, claim, primary_paid)
    actor = handler(world)
    with acting_as(actor):
        return services.claim_indemnity_compute(claim_id=claim.pk, actor=actor)


def test_the_seed_case_pays_36_000(world: World) -> None:
    # Loss 100 000, P 40 000, T 40 000, q 90 % → 36 000 from the top-up.
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "100000", delivered=recently_due()))

    claim = _computed(world, claim)

    assert claim.status == ClaimStatus.INDEMNITY_COMPUTED
    assert claim.indemnity == D("36000.00")
    [line] = claim.computation["lines"]
    assert (line["loss_before"], line["loss_after"]) == ("0", "100000.00")
    assert (line["layer_from"], line["layer_to"], line["top_up_part"]) == (
        "40000.00",
        "80000.00",
        "40000.00",
    )


def test_a_loss_inside_the_primary_layer_is_declined(world: World) -> None:
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "30000", delivered=recently_due()))

    claim = _computed(world, claim, primary_paid="27000")

    assert claim.indemnity == D("0.00")
    assert claim.status == ClaimStatus.DECLINED
    assert "aucune part" in claim.decline_reason


def test_a_loss_above_total_cover_pays_the_whole_layer(world: World) -> None:
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    claim = declared(
        world.alice,
        buyer,
        unpaid("F1", "150000", delivered=recently_due(20)),
        unpaid("F2", "100000", delivered=recently_due(10)),
    )

    assert _computed(world, claim).indemnity == D("36000.00")


def test_a_top_up_reduced_between_two_deliveries(world: World) -> None:
    # F1 delivered under T 40 000: 0 → 50 000 over [40 000, 80 000] → 10 000.
    # F2 delivered under T 10 000: 50 000 → 90 000 over [40 000, 50 000] → 0.
    no_waiting(world.alice)
    first, second = recently_due(30), recently_due(5)
    cut = first + timedelta(days=10)
    buyer = covered_buyer(world.alice, top_up="40000", until=cut)
    GuaranteeFactory.create(
        contract=world.alice.contract,
        buyer=buyer,
        amount=D("10000"),
        primary_amount=D("40000"),
        period=DateRange(cut, None, "[)"),
    )
    claim = declared(
        world.alice,
        buyer,
        unpaid("F1", "50000", delivered=first),
        unpaid("F2", "40000", delivered=second),
    )

    claim = _computed(world, claim)

    assert [line["top_up_part"] for line in claim.computation["lines"]] == ["10000.00", "0"]
    assert claim.indemnity == D("9000.00")
    assert list(ClaimInvoice.objects.order_by("number").values_list("top_up_limit", flat=True)) == [
        D("40000.00"),
        D("10000.00"),
    ]


def test_the_waiting_period_holds_the_computation(world: World) -> None:
    buyer = covered_buyer(world.alice)
    delivered = recently_due()
    claim = declared(world.alice, buyer, unpaid("F1", "100000", delivered=delivered))
    settled(world, claim)

    waiting = services.claim_waiting_period(claim)
    assert waiting is not None
    assert waiting.reason == WaitingReason.DUE_DATE
    assert waiting.ends_on == delivered + timedelta(days=60 + 150)
    with acting_as(handler(world)), pytest.raises(Conflict) as held:
        services.claim_indemnity_compute(claim_id=claim.pk, actor=handler(world))
    assert held.value.code == "waiting_period"


def test_a_liquidation_cuts_the_waiting_period_short(world: World) -> None:
    delivered = recently_due(20)
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "100000", delivered=delivered))
    judged_on = business_today() - timedelta(days=3)
    imported(
        world.staff[Role.ARBITER],
        json_lines(notice(siren=buyer.siren, nature=LIQUIDATION, judged_on=judged_on.isoformat())),
    )

    waiting = services.claim_waiting_period(claim)

    assert waiting is not None
    assert (waiting.ends_on, waiting.reason) == (judged_on, WaitingReason.PROCEEDINGS)
    # The delivery happened before the judgment: still covered, and computable at once.
    assert _computed(world, claim).indemnity == D("36000.00")


def test_a_late_declaration_is_refused_with_the_date_it_was_due(world: World) -> None:
    buyer = covered_buyer(world.alice)
    delivered = business_today() - timedelta(days=200)  # due 140 days ago, deadline 80 ago
    deadline = delivered + timedelta(days=60 + 60)

    with pytest.raises(RuleViolation) as refused:
        declared(world.alice, buyer, unpaid("F1", "10000", delivered=delivered))

    assert refused.value.field == "invoices[0].due_date"
    assert deadline.strftime("%d/%m/%Y") in refused.value.message
    assert not Claim.objects.exists()


def test_a_credit_term_beyond_the_maximum_is_not_covered(world: World) -> None:
    # 120 days' term against a 90-day maximum: F1 is excluded and adds no loss; F2 alone:
    # 60 000 over [40 000, 80 000] → 20 000 → 18 000.
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    long_term = business_today() - timedelta(days=125)
    claim = declared(
        world.alice,
        buyer,
        unpaid("F1", "30000", delivered=long_term, term_days=120),
        unpaid("F2", "60000", delivered=recently_due()),
    )

    assert dict(ClaimInvoice.objects.values_list("number", "exclusion")) == {
        "F1": Exclusion.CREDIT_TERM,
        "F2": Exclusion.COVERED,
    }
    assert _computed(world, claim).indemnity == D("18000.00")


def test_an_invoice_delivered_outside_any_top_up_period(world: World) -> None:
    buyer = covered_buyer(world.alice, since=business_today() - timedelta(days=30))
    claim = declared(world.alice, buyer, unpaid("F1", "90000", delivered=recently_due()))
    assert claim.invoices.get().exclusion == Exclusion.OUTSIDE_TOP_UP


def test_a_partial_payment_by_the_buyer_reduces_the_oldest_invoice_first(world: World) -> None:
    # Paid 25 000: F1 (oldest, 20 000) in full, F2 5 000 → loss 75 000 → 35 000 × 90 % = 31 500.
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    claim = declared(
        world.alice,
        buyer,
        unpaid("F2", "80000", delivered=recently_due(5)),
        unpaid("F1", "20000", delivered=recently_due(25)),
    )
    actor = handler(world)
    with acting_as(actor):
        services.claim_recovery_start(claim_id=claim.pk, actor=actor)
        services.claim_buyer_payment_record(
            claim_id=claim.pk, amount=D("25000"), received_on=business_today(), actor=actor
        )
        services.claim_primary_settle(
            claim_id=claim.pk, amount=D("36000"), settled_on=business_today(), actor=actor
        )
        claim = services.claim_indemnity_compute(claim_id=claim.pk, actor=actor)

    assert claim.indemnity == D("31500.00")
    assert [line["paid_by_buyer"] for line in claim.computation["lines"]] == ["20000.00", "5000.00"]


def test_the_buyer_paying_everything_recovers_the_claim(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "20000", delivered=recently_due()))
    actor = handler(world)
    with acting_as(actor):
        services.claim_recovery_start(claim_id=claim.pk, actor=actor)
        services.claim_buyer_payment_record(
            claim_id=claim.pk, amount=D("20000"), received_on=business_today(), actor=actor
        )
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.RECOVERED
        claim = services.claim_close(claim_id=claim.pk, actor=actor)
    assert claim.status == ClaimStatus.CLOSED


def test_the_whole_path_with_a_recovery_after_payment(world: World) -> None:
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    claim = _computed(
        world, declared(world.alice, buyer, unpaid("F1", "100000", delivered=recently_due()))
    )
    actor = handler(world)
    actor.authority_amount = D("50000")
    actor.save(update_fields=["authority_amount"])
    with acting_as(actor):
        claim = services.claim_indemnity_approve(claim_id=claim.pk, actor=actor)
        assert claim.status == ClaimStatus.APPROVED
        claim = services.claim_indemnity_pay(
            claim_id=claim.pk, paid_on=business_today(), reference="VIR-001", actor=actor
        )
        # 10 000 recovered; the primary and the top-up each paid 36 000: 5 000 is due back.
        services.claim_recovery_record(
            claim_id=claim.pk, amount=D("10000"), received_on=business_today(), actor=actor
        )
        claim.refresh_from_db()
        assert claim.due_back == D("5000.00")
        claim = services.claim_close(claim_id=claim.pk, actor=actor)
    assert claim.status == ClaimStatus.CLOSED


def test_above_the_handlers_authority_a_senior_countersigns(world: World) -> None:
    no_waiting(world.alice)
    buyer = covered_buyer(world.alice)
    claim = _computed(
        world, declared(world.alice, buyer, unpaid("F1", "100000", delivered=recently_due()))
    )
    actor, senior = handler(world), world.staff[Role.SENIOR_ARBITER]
    actor.authority_amount = D("10000")
    actor.save(update_fields=["authority_amount"])
    with acting_as(actor):
        claim = services.claim_indemnity_approve(claim_id=claim.pk, actor=actor)
    assert claim.status == ClaimStatus.AWAITING_COUNTERSIGNATURE
    assert Notification.objects.filter(
        recipient=senior, subject__startswith="Contre-signature d'indemnité"
    ).exists()
    with acting_as(actor), pytest.raises(Forbidden):
        services.claim_indemnity_countersign(claim_id=claim.pk, actor=actor, approve=True)
    with acting_as(senior):
        claim = services.claim_indemnity_countersign(claim_id=claim.pk, actor=senior, approve=True)
    assert (claim.status, claim.countersigned_by) == (ClaimStatus.APPROVED, senior)


def test_the_primary_declining_declines_the_claim(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "100000", delivered=recently_due()))
    actor = handler(world)
    with acting_as(actor):
        claim = services.claim_primary_decline(
            claim_id=claim.pk, settled_on=business_today(), actor=actor, reason="Litige commercial"
        )
    assert claim.status == ClaimStatus.DECLINED
    assert "Litige commercial" in claim.decline_reason


def test_the_same_invoice_cannot_be_declared_twice(world: World) -> None:
    buyer = covered_buyer(world.alice)
    declared(world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()))

    with pytest.raises(Conflict) as twice:
        declared(world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()))
    assert twice.value.field == "invoices[0].number"
    # Another wholesaler may number its invoices alike on the same buyer.
    GuaranteeFactory.create(contract=world.bob.contract, buyer=buyer)
    declared(world.bob, buyer, unpaid("F1", "1000", delivered=recently_due()))


def test_every_change_tells_the_wholesaler_and_its_broker(world: World) -> None:
    buyer = covered_buyer(world.alice)
    Notification.objects.all().delete()
    claim = declared(world.alice, buyer, unpaid("F1", "100000", delivered=recently_due()))
    settled(world, claim)

    for user in (world.alice.credit_manager, world.broker_user):
        subjects = list(
            Notification.objects.filter(recipient=user).values_list("subject", flat=True)
        )
        assert len(subjects) == 3, subjects  # declared, recovery started, primary settled
    assert Notification.objects.filter(recipient=handler(world)).exists()
    assert not Notification.objects.filter(recipient__organisation=world.bob.organisation).exists()


def test_who_may_declare_and_handle(world: World) -> None:
    buyer = covered_buyer(world.alice)
    for outsider in (world.alice.finance, world.staff[Role.ARBITER]):
        with pytest.raises(Forbidden):
            declared(
                world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()), by=outsider
            )
    claim = declared(
        world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()), by=world.broker_user
    )
    assert claim.declared_by == world.broker_user
    with acting_as(world.alice.credit_manager), pytest.raises(Forbidden):
        services.claim_recovery_start(claim_id=claim.pk, actor=world.alice.credit_manager)


def test_csv_invoices_are_added_only_when_every_line_passes(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()))
    due = recently_due() + timedelta(days=60)
    good = f"F2;1 500,00;{recently_due():%d/%m/%Y};{recently_due():%d/%m/%Y};{due:%d/%m/%Y}"
    bad = f"F1;abc;{recently_due():%d/%m/%Y};;{due:%d/%m/%Y}"
    content = (
        "numero;montant;date de facture;date de livraison;echeance\n" + good + "\n" + bad
    ).encode("cp1252")
    actor = world.alice.credit_manager
    with acting_as(actor):
        result = services.claim_invoices_upload(claim_id=claim.pk, content=content, actor=actor)
    assert not result.accepted
    assert [(line.line, bool(line.errors)) for line in result.lines] == [(2, False), (3, True)]
    assert any("montant" in error for error in result.lines[1].errors)
    assert ClaimInvoice.objects.count() == 1
    with acting_as(actor):
        result = services.claim_invoices_upload(
            claim_id=claim.pk,
            content=("numero;montant;date de facture;date de livraison;echeance\n" + good).encode(),
            actor=actor,
        )
    assert result.accepted
    assert ClaimInvoice.objects.get(number="F2").amount == D("1500.00")


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2, 2), "white").save(out, format="PNG")
    return out.getvalue()


def test_documents_are_checked_by_their_content(world: World) -> None:
    buyer = covered_buyer(world.alice)
    claim = declared(world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()))
    actor = world.alice.credit_manager
    with acting_as(actor):
        pdf = services.claim_document_add(
            claim_id=claim.pk, name="facture.pdf", content=PDF, actor=actor
        )
        png = services.claim_document_add(
            claim_id=claim.pk, name="bl.png", content=_png(), actor=actor
        )
        assert (pdf.content_type, png.content_type) == ("application/pdf", "image/png")
        assert "facture" not in pdf.file.name  # never the uploaded name on disk
        for name, content in (
            ("facture.pdf", b"MZ\x90\x00 not a pdf"),  # an executable named .pdf
            ("photo.png", b"\x89PNG\r\n\x1a\n" + b"garbage"),
            ("vide.pdf", b""),
        ):
            with pytest.raises(RuleViolation) as refused:
                services.claim_document_add(
                    claim_id=claim.pk, name=name, content=content, actor=actor
                )
            assert refused.value.field == "file"


def test_a_buyer_never_covered_still_gets_its_reasons(world: World) -> None:
    buyer = BuyerFactory.create()
    claim = declared(world.alice, buyer, unpaid("F1", "1000", delivered=recently_due()))
    # Declared all the same: the claim page says why nothing is covered.
    assert claim.invoices.get().exclusion == Exclusion.OUTSIDE_TOP_UP

"""Expert insights on buyers (issue 11): an arbiter publishes; the policyholders exposed to the
buyer today (alice, through a top-up in force, and its mandated broker) see it and hear of it
once; bob (a contract, not exposed) and charlie (the outsider) never do. Published insights are
immutable; a newer one supersedes the older, which stays in the history."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from monitoring.models import BuyerInsight, InsightExposure, Outlook
from monitoring.services.insights import buyer_insight_publish
from portal.errors import Forbidden, RuleViolation
from portal.models import AuditEvent, Notification, Role, User
from tests.support.clients import client_for, token_client
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.scopes import acting_as, insurer_scope, scope_of
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting.models import Buyer

ASSESSMENT = "Trésorerie tendue après la perte d'un grand client ; marges en baisse."


@pytest.fixture
def buyer(world: World) -> Buyer:
    """A buyer alice holds a top-up on today; bob and charlie have nothing on it."""
    buyer = BuyerFactory.create(name="Revendeur Exposé")
    GuaranteeFactory.create(contract=world.alice.contract, buyer=buyer)
    return buyer


def publish(user: User, buyer: Buyer, **kwargs: object) -> BuyerInsight:
    data: dict[str, object] = {"assessment": ASSESSMENT, "outlook": Outlook.NEGATIVE, **kwargs}
    with acting_as(user):
        return buyer_insight_publish(buyer=buyer, actor=user, **data)  # type: ignore[arg-type]


def _addressees(insight: BuyerInsight) -> list[str]:
    """Every notification row of the insight's event, by recipient (read them all)."""
    event = AuditEvent.objects.get(object_id=str(insight.pk))
    return sorted(
        Notification.objects.filter(event=event).values_list("recipient__username", flat=True)
    )


def test_an_arbiter_publishes_an_insight_that_reaches_the_exposed_policyholder(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    insight = publish(
        arbiter, buyer, recommended_min=Decimal("20000"), recommended_max=Decimal("35000.5")
    )
    assert insight.author == arbiter
    assert insight.supersedes is None
    assert insight.recommended_max == Decimal("35000.50")
    with insurer_scope():
        reached = list(InsightExposure.objects.values_list("policyholder_id", flat=True))
    assert reached == [world.alice.organisation.pk]
    event = AuditEvent.objects.get(object_id=str(insight.pk))
    assert event.action == "buyer_insight.published"
    assert event.data["reached"] == 1


def test_exposed_alice_and_its_broker_hear_once_and_nobody_else_does(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    # bob is exposed to another buyer only: the fan-out must not cross to it.
    other = BuyerFactory.create()
    submit(world.bob, other)
    Notification.objects.all().delete()
    insight = publish(arbiter, buyer)
    expected = sorted(
        [
            world.alice.credit_manager.username,
            world.alice.users[Role.ORG_ADMIN].username,
            world.broker_user.username,
        ]
    )
    assert _addressees(insight) == expected
    every = list(Notification.objects.select_related("recipient"))
    assert sorted(n.recipient.username for n in every) == expected  # once each, nobody else
    for notification in every:
        assert buyer.name in notification.subject
        assert ASSESSMENT in notification.body
        assert notification.recipient.organisation_id not in {
            world.bob.organisation.pk,
            world.charlie.organisation.pk,
        }


def test_an_open_request_is_an_exposure_and_a_broker_of_two_exposed_clients_hears_once(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    from tests.support.factories import MandateFactory

    submit(world.bob, buyer)  # bob is now exposed too, through an open request
    MandateFactory.create(broker=world.broker, policyholder=world.bob.organisation)
    insight = publish(arbiter, buyer)
    addressees = _addressees(insight)
    assert addressees.count(world.broker_user.username) == 1
    assert world.bob.credit_manager.username in addressees
    assert world.bob.finance.username not in addressees  # finance does not act on buyers


def test_a_published_insight_is_immutable_in_the_database(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    insight = publish(arbiter, buyer)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        BuyerInsight.objects.filter(pk=insight.pk).update(assessment="réécrite")
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        BuyerInsight.objects.filter(pk=insight.pk).delete()
    insight.refresh_from_db()
    assert insight.assessment == ASSESSMENT


def test_a_newer_insight_supersedes_the_older_which_stays_in_the_history(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    first = publish(arbiter, buyer, outlook=Outlook.WATCH)
    second = publish(world.staff[Role.SENIOR_ARBITER], buyer, outlook=Outlook.NEGATIVE)
    third = publish(world.staff[Role.ADMIN], buyer, outlook=Outlook.STABLE)
    assert (second.supersedes_id, third.supersedes_id) == (first.pk, second.pk)
    page = client_for(arbiter).get(reverse("buyer_risk_file", args=[buyer.pk]))
    assert page.status_code == 200
    history = page.context["insights"]
    assert [(i.pk, i.superseded) for i in history] == [
        (third.pk, False),
        (second.pk, True),
        (first.pk, True),
    ]
    assert page.content.decode().count('data-testid="insight-superseded"') == 2
    # The wholesaler reads the latest first, the older ones in the history.
    mine = client_for(world.alice.credit_manager).get(
        reverse("buyer_page", args=[world.alice.contract.pk, buyer.pk])
    )
    html = mine.content.decode()
    assert [i.pk for i in mine.context["insights"]] == [third.pk, second.pk, first.pk]
    assert 'data-testid="insight-history"' in html
    assert html.index("Stable") < html.index("Sous surveillance")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"assessment": "  "}, "assessment"),
        ({"assessment": "x" * 2001}, "assessment"),
        ({"outlook": "rosy"}, "outlook"),
        ({"recommended_min": Decimal("-1")}, "recommended_min"),
        (
            {"recommended_min": Decimal("50000"), "recommended_max": Decimal("1000")},
            "recommended_max",
        ),
    ],
)
def test_it_refuses_an_invalid_insight_naming_the_field(
    world: World, buyer: Buyer, arbiter: User, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        publish(arbiter, buyer, **kwargs)
    assert refused.value.field == field
    assert not BuyerInsight.objects.exists()


@pytest.mark.parametrize("role", [Role.CREDIT_MANAGER, Role.ORG_ADMIN, Role.CLAIMS_HANDLER])
def test_only_arbiters_and_the_admin_publish(world: World, buyer: Buyer, role: str) -> None:
    user = world.staff[role] if role == Role.CLAIMS_HANDLER else world.alice.users[role]
    with pytest.raises(Forbidden):
        publish(user, buyer)
    with pytest.raises(Forbidden):
        publish(world.broker_user, buyer)
    assert not BuyerInsight.objects.exists()


def test_the_buyer_page_shows_the_latest_insight_as_the_arbiters_with_the_range_in_euros(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    publish(arbiter, buyer, recommended_min=Decimal("1234.56"), recommended_max=Decimal("50000"))
    for user in (world.alice.credit_manager, world.broker_user):
        html = (
            client_for(user)
            .get(reverse("buyer_page", args=[world.alice.contract.pk, buyer.pk]))
            .content.decode()
        )
        assert ASSESSMENT.replace("'", "&#x27;") in html
        assert "par votre arbitre" in html
        assert arbiter.username not in html  # the author is the insurer's, not named
        range_text = html.split('data-testid="insight-range"')[1].split("</p>")[0]
        assert "1\u202f234,56\u00a0€" in range_text or "1 234,56 €" in range_text.replace(
            "\u202f", " "
        ).replace("\u00a0", " ")


def test_bob_not_exposed_gets_nothing_on_the_buyer_page_the_feed_or_the_api(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    publish(arbiter, buyer)
    bob = world.bob.credit_manager
    page = client_for(bob).get(reverse("buyer_page", args=[world.bob.contract.pk, buyer.pk]))
    if page.status_code == 200:
        assert page.context["insights"] == []
        assert ASSESSMENT.replace("'", "&#x27;") not in page.content.decode()
    else:
        assert page.status_code == 404
    feed = client_for(bob).get(reverse("alerts"))
    assert feed.context["insight_lines"] == []
    assert "Revendeur Exposé" not in feed.content.decode()
    api = token_client(bob).get(reverse("insight-list"), {"buyer": str(buyer.pk)})
    assert api.status_code == 200
    assert api.json()["count"] == 0
    assert token_client(bob).get(reverse("insight-list")).json()["count"] == 0
    with scope_of(world.bob):
        assert not InsightExposure.objects.exists()


def test_alice_and_its_broker_read_the_insight_in_their_feed_and_the_api(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    insight = publish(arbiter, buyer, outlook=Outlook.WATCH)
    for user in (world.alice.credit_manager, world.broker_user):
        feed = client_for(user).get(reverse("alerts"))
        assert [line.exposure.insight_id for line in feed.context["insight_lines"]] == [insight.pk]
        assert 'data-testid="insight-row"' in feed.content.decode()
        api = token_client(user).get(reverse("insight-list"), {"buyer": str(buyer.pk)})
        [row] = api.json()["results"]
        assert (row["id"], row["outlook"], row["superseded"]) == (str(insight.pk), "watch", False)
        assert "author" not in row


def test_a_policyholder_exposed_after_publication_reads_the_insight_without_being_told(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    insight = publish(arbiter, buyer)
    submit(world.bob, buyer)
    api = token_client(world.bob.credit_manager).get(reverse("insight-list"))
    assert [row["id"] for row in api.json()["results"]] == [str(insight.pk)]
    assert not Notification.objects.filter(recipient=world.bob.credit_manager).filter(
        subject__contains=buyer.name
    )


def test_the_api_refuses_a_bad_buyer_id_naming_the_field(world: World) -> None:
    response = token_client(world.alice.credit_manager).get(
        reverse("insight-list"), {"buyer": "not-a-uuid"}
    )
    assert response.status_code == 400
    assert "buyer" in response.content.decode()


def test_an_arbiter_publishes_through_the_api_and_others_get_404(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    payload = {
        "buyer": str(buyer.pk),
        "assessment": ASSESSMENT,
        "outlook": "stable",
        "recommended_min": "10000",
        "recommended_max": "20000",
    }
    for user in (world.alice.credit_manager, world.broker_user, world.staff[Role.FINANCE_OPS]):
        refused = token_client(user).post(
            reverse("insight-list"), payload, content_type="application/json"
        )
        assert refused.status_code == 404, user.username
    assert not BuyerInsight.objects.exists()
    created = token_client(arbiter).post(
        reverse("insight-list"), payload, content_type="application/json"
    )
    assert created.status_code == 201
    assert created.json()["recommended_max"] == "20000.00"
    bad = token_client(arbiter).post(
        reverse("insight-list"),
        {**payload, "recommended_min": "30000"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["field"] == "recommended_max"
    listed = token_client(arbiter).get(reverse("insight-list"), {"buyer": str(buyer.pk)})
    assert listed.json()["count"] == 1


def test_the_risk_file_form_publishes_and_the_wholesaler_cannot_post_it(
    world: World, buyer: Buyer, arbiter: User
) -> None:
    url = reverse("buyer_insight_publish", args=[buyer.pk])
    form = {"assessment": ASSESSMENT, "outlook": "positive", "recommended_min": "5000"}
    for user in (world.alice.credit_manager, world.broker_user, world.charlie.credit_manager):
        assert client_for(user).post(url, form).status_code == 404
    assert not BuyerInsight.objects.exists()
    page = client_for(arbiter).get(reverse("buyer_risk_file", args=[buyer.pk]))
    assert 'data-testid="insight-form"' in page.content.decode()
    response = client_for(arbiter).post(url, form)
    assert response.status_code == 302
    assert response["Location"] == reverse("buyer_risk_file", args=[buyer.pk])
    insight = BuyerInsight.objects.get()
    assert (insight.outlook, insight.recommended_min) == ("positive", Decimal("5000.00"))
    # An invalid form publishes nothing and says why.
    again = client_for(arbiter).post(url, {"assessment": "", "outlook": "stable"}, follow=True)
    assert BuyerInsight.objects.count() == 1
    assert "Analyse" in again.content.decode()

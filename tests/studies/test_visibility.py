"""A prospect's study is seen by the broker that brought it, and by nobody else outside the
insurer; the proposal grid is the insurer admin's, with bands that never overlap."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from portal.models import Role
from studies import services
from studies.models import ProposalGridBand, Study
from tests.support.clients import client_for
from tests.support.factories import BrokerFactory, MandateFactory, UserFactory
from tests.support.scopes import acting_as
from tests.support.studies import prospect_input
from tests.support.world import World
from underwriting.models import Contract


def test_another_broker_sees_nothing_of_a_prospect(world: World) -> None:
    with acting_as(world.broker_user):
        study = services.study_start_for_prospect(data=prospect_input(), actor=world.broker_user)
    rival = BrokerFactory.create(name="Courtier Rival")
    rival_user = UserFactory.create(organisation=rival, role=Role.BROKER)
    MandateFactory.create(broker=rival, policyholder=world.bob.organisation)
    with acting_as(rival_user):
        assert not Study.objects.filter(pk=study.pk).exists()
        assert not Contract.objects.filter(policyholder_id=study.policyholder_id).exists()
    client = client_for(rival_user)
    for path in (
        f"/studies/{study.pk}/",
        f"/api/v1/studies/{study.pk}/",
        f"/policyholders/{study.policyholder_id}/",
    ):
        assert client.get(path).status_code == 404, path
    assert client.get("/api/v1/studies/").json()["count"] == 0
    # The broker that brought it sees it.
    assert client_for(world.broker_user).get(f"/studies/{study.pk}/").status_code == 200


def test_the_grid_bands_do_not_overlap(world: World) -> None:
    with pytest.raises(ValidationError):
        ProposalGridBand(min_grade=7, max_grade=9, factor=Decimal("0.75")).full_clean()
    ProposalGridBand(min_grade=0, max_grade=3, factor=Decimal("0")).full_clean()


def test_the_grid_is_in_the_admin_for_the_insurer_admin_only(world: World) -> None:
    admin = client_for(world.staff[Role.ADMIN])
    assert admin.get("/admin/studies/proposalgridband/").status_code == 200
    arbiter = client_for(world.staff[Role.ARBITER])
    assert arbiter.get("/admin/studies/proposalgridband/").status_code in (302, 403, 404)


def test_an_empty_grid_proposes_by_designs_defaults(world: World) -> None:
    from studies.proposals import grid_bands, propose

    ProposalGridBand.objects.all().delete()
    bands = grid_bands()
    proposal = propose(
        grade=6, proceedings="none", max_allowed=Decimal("30999"), requested=None, bands=bands
    )
    assert proposal.amount == Decimal("15000")  # 50 % of 30 999, rounded down to 500
    ProposalGridBand.objects.create(min_grade=0, max_grade=10, factor=Decimal("0"))
    assert propose(
        grade=9,
        proceedings="none",
        max_allowed=Decimal("30000"),
        requested=None,
        bands=grid_bands(),
    ).amount == Decimal("0")


def test_the_contracts_aggregate_cap_bounds_a_study(world: World) -> None:
    """Alice's contract caps top-ups at 70 000: 40 000 in force on one buyer, the study proposes
    60 000 on another; finalising says so, and once adjusted to 30 000 the report goes out."""
    from portal.errors import Conflict
    from studies.models import StudyLine
    from tests.support.billing import set_terms
    from tests.support.factories import BuyerFactory, GuaranteeFactory
    from tests.support.studies import buyer_row, graded_buyer, study_at

    set_terms(world.alice.contract, aggregate_cap=Decimal("70000"))
    GuaranteeFactory.create(contract=world.alice.contract, buyer=BuyerFactory.create())
    buyer = graded_buyer(1)
    assert buyer.siren is not None
    study = study_at(world, "submitted", buyer_row(buyer.siren), tenant=world.alice)
    senior = world.staff[Role.SENIOR_ARBITER]
    with acting_as(senior):
        with pytest.raises(Conflict) as capped:
            services.study_finalise(study_id=study.pk, actor=senior)
        assert capped.value.field == "total_top_up" and "70" in capped.value.message
        line = StudyLine.objects.get(study=study)
        services.study_line_adjust(
            line_id=line.pk, amount=Decimal("30000"), reason="Plafond global", actor=senior
        )
        assert services.study_finalise(study_id=study.pk, actor=senior).status == "finalised"

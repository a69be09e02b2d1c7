"""A study from prospect to live contract as production runs it: an ordinary database role,
row-level security in force (the superuser the other tests use is exempt from it)."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from portal.models import Role, User
from studies import services
from studies.models import Study, StudyStatus
from tests.support.rls import ordinary_role
from tests.support.scopes import acting_as
from tests.support.studies import buyer_list_csv, buyer_row, graded_buyer, prospect_input
from tests.support.world import World


def finalised_prospect_study(world: World) -> Study:
    """Broker starts, uploads and submits; a senior issues the report. Run inside the ordinary
    role: the broker's scope is computed before the prospect exists, and the prospect's contract
    and study must still pass the database's policy."""
    buyer = graded_buyer(1)
    assert buyer.siren is not None
    broker, senior = world.broker_user, world.staff[Role.SENIOR_ARBITER]
    with acting_as(broker):
        study = services.study_start_for_prospect(data=prospect_input(), actor=broker)
    with acting_as(broker):
        services.study_upload(
            study_id=study.pk,
            content=buyer_list_csv(buyer_row(buyer.siren)),
            filename="liste.csv",
            actor=broker,
        )
        services.study_submit(study_id=study.pk, actor=broker)
    with acting_as(senior):
        return services.study_finalise(study_id=study.pk, actor=senior)


def test_a_prospect_study_goes_live_under_row_level_security(world: World) -> None:
    broker = world.broker_user
    with ordinary_role():
        study = finalised_prospect_study(world)
        with acting_as(broker):
            study = services.study_accept(study_id=study.pk, actor=broker)
        assert study.status == StudyStatus.ACCEPTED
        # Raw SQL past the application: the guarantee is the prospect's, and the broker's scope
        # (its mandates, the prospect's now included) shows it.
        with acting_as(broker), connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM underwriting_guarantee WHERE policyholder_id = %s",
                [study.policyholder_id],
            )
            assert cursor.fetchone() == (1,)


def test_the_contact_accepts_its_invitation_under_row_level_security(world: World) -> None:
    with ordinary_role():
        study = finalised_prospect_study(world)
        contact = User.objects.get(email=study.contact_email)
        # The invitation link is its own credential: no scope is active when it is answered.
        contact = services.study_accept_invitation(
            study_id=study.pk,
            uidb64=urlsafe_base64_encode(force_bytes(contact.pk)),
            token=default_token_generator.make_token(contact),
            password="Un-mot-de-passe-solide-2026",
        )
    assert contact.is_active and contact.check_password("Un-mot-de-passe-solide-2026")

"""A portfolio study from start to live contract, through the services (DESIGN §4 "Study" and
"Study proposal grid"): prospect, upload, verdicts and proposals, adjustment, finalisation with
its countersignature, acceptance in one transaction, refusal, expiry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db.models import F
from django.test import override_settings

from portal.errors import Conflict, Forbidden, RuleViolation
from portal.models import AuditEvent, Mandate, Organisation, Role, User
from portal.outbox import deliveries_dispatch, deliveries_pending
from portal.timeutils import business_today
from studies import selectors, services
from studies.models import LineVerdict, Study, StudyFile, StudyLine, StudyStatus
from tests.support.factories import siren_for
from tests.support.presentation import fr_eur
from tests.support.scopes import acting_as, insurer_scope
from tests.support.studies import (
    buyer_list_csv,
    buyer_row,
    graded_buyer,
    prospect_input,
    study_at,
)
from tests.support.world import World
from underwriting.models import Buyer, Contract, ContractStatus, Guarantee, ProceedingsStatus

D = Decimal


def upload(study: Study, user: User, content: bytes, name: str = "acheteurs.csv") -> Study:
    with acting_as(user):
        return services.study_upload(study_id=study.pk, content=content, filename=name, actor=user)


def lines_of(study: Study) -> dict[int, StudyLine]:
    with insurer_scope():
        return {row.line_number: row for row in StudyLine.objects.filter(study=study)}


def test_a_broker_brings_a_prospect_nobody_there_can_sign_in_yet(world: World) -> None:
    study = study_at(world, "new")
    organisation = Organisation.objects.get(siren=siren_for(9001))
    assert organisation.is_policyholder and organisation.dedicated_arbiter is not None
    assert not User.objects.filter(organisation=organisation).exists()
    assert Mandate.objects.filter(broker=world.broker, policyholder=organisation).exists()
    with acting_as(world.broker_user):
        contract = Contract.objects.get(policyholder=organisation)
        assert contract.status == ContractStatus.DRAFT
        assert Study.objects.get(pk=study.pk).is_prospect
    # bob's users and another broker see nothing of it.
    with acting_as(world.bob.credit_manager):
        assert not Study.objects.filter(pk=study.pk).exists()


def test_a_prospect_needs_a_valid_siren_and_a_new_contact(world: World) -> None:
    with acting_as(world.broker_user), pytest.raises(RuleViolation) as bad:
        services.study_start_for_prospect(
            data=prospect_input(siren="123456789"), actor=world.broker_user
        )
    assert bad.value.field == "siren"
    with acting_as(world.broker_user), pytest.raises(Conflict) as taken:
        services.study_start_for_prospect(
            data=prospect_input(contact_email=world.alice.credit_manager.email),
            actor=world.broker_user,
        )
    assert taken.value.field == "contact_email"
    assert not Organisation.objects.filter(siren=siren_for(9001)).exists()
    with acting_as(world.alice.credit_manager), pytest.raises(Forbidden):
        services.study_start_for_prospect(data=prospect_input(), actor=world.alice.credit_manager)


def test_each_line_gets_a_verdict_and_a_proposal_by_the_grid(world: World) -> None:
    best, good, fair, weak = (
        graded_buyer(1, 9),
        graded_buyer(2, 6),
        graded_buyer(3, 4),
        graded_buyer(4, 2),
    )
    troubled = graded_buyer(5, 9, proceedings=ProceedingsStatus.SAFEGUARD)
    study = study_at(world, "new")
    content = buyer_list_csv(
        # grade 9: X = min(2 × 40 000, 100 000 − 40 000) = 60 000
        buyer_row(best.siren or "", "100 000,00", "40 000"),
        # grade 6: 50 % of X = min(requested 30 000, 80 000) → 15 000
        buyer_row(good.siren or "", "1.234.567,89", "40 000", "30 000"),
        "",
        # grade 4: 25 % of 50 000 = 12 500
        buyer_row(fair.siren or "", "75000", "25000"),
        buyer_row(weak.siren or "", "75000", "25000"),
        buyer_row(troubled.siren or "", "75000", "25000"),
        # unknown to the registry: no automatic proposal
        buyer_row(siren_for(8888), "75000", "25000", name="Inconnu SARL"),
        # wrong key, primary above exposure, listed twice
        buyer_row("123456789", "75000", "25000"),
        buyer_row(siren_for(8889), "10000", "25000"),
        buyer_row(best.siren or "", "5000", "1000"),
    )
    study = upload(study, world.broker_user, content)
    assert (study.status, study.lines_total) == (StudyStatus.DRAFT, 9)  # the blank line skipped
    rows = lines_of(study)
    assert rows[2].proposed_top_up == D("60000.00")
    assert rows[3].proposed_top_up == D("15000.00")
    # The reason reads the French way: the percentage and the capped maximum.
    assert rows[3].proposal_reason == (
        f"Note 6/10 : 50 % du maximum ({fr_eur(30000)}), arrondi à 500 €."
    )
    assert rows[5].proposed_top_up == D("12500.00")
    assert rows[6].proposed_top_up == 0 and rows[7].proposed_top_up == 0
    assert "procédure" in rows[7].proposal_reason.lower()
    assert rows[8].verdict == LineVerdict.ACCEPTED and rows[8].proposed_top_up == 0
    assert rows[8].grade is None
    assert {rows[n].verdict for n in (9, 10, 11)} == {LineVerdict.REFUSED}
    assert rows[9].errors[0]["column"] == "SIREN"
    assert "Limite primaire" in {error["column"] for error in rows[10].errors}
    assert "ligne 2" in rows[11].errors[0]["message"]
    assert (study.lines_accepted, study.lines_refused) == (6, 3)
    # The registry learnt the unknown buyer.
    assert Buyer.objects.filter(siren=siren_for(8888), name="Inconnu SARL").exists()


def test_a_corrected_file_replaces_the_list_while_the_study_is_a_draft(world: World) -> None:
    buyer = graded_buyer(1, 9)
    study = study_at(world, "new")
    upload(study, world.broker_user, buyer_list_csv(buyer_row("123456789", "1000", "500")))
    study = upload(
        study, world.broker_user, buyer_list_csv(buyer_row(buyer.siren or "", "100000", "40000"))
    )
    assert [row.verdict for row in lines_of(study).values()] == [LineVerdict.ACCEPTED]
    with acting_as(world.broker_user):
        services.study_submit(study_id=study.pk, actor=world.broker_user)
    with pytest.raises(Conflict):
        upload(
            study,
            world.broker_user,
            buyer_list_csv(buyer_row(buyer.siren or "", "100000", "40000")),
        )


def test_an_unreadable_file_stores_nothing(world: World) -> None:
    study = study_at(world, "new")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    for content, name in ((png, "acheteurs.csv"), (buyer_list_csv(), "acheteurs.csv")):
        with pytest.raises(RuleViolation) as refused:
            upload(study, world.broker_user, content, name)
        assert refused.value.field == "file"
    assert lines_of(study) == {}
    with insurer_scope():
        assert Study.objects.get(pk=study.pk).uploaded_at is None


@pytest.mark.usefixtures("eager_celery")
@pytest.mark.django_db(transaction=True)
def test_a_large_list_is_analysed_by_a_worker(world: World) -> None:
    buyers = [graded_buyer(n, 9) for n in range(6)]
    study = study_at(world, "new")
    with override_settings(STUDY_ASYNC_LINES=3):
        study = upload(
            study,
            world.broker_user,
            buyer_list_csv(*(buyer_row(b.siren or "", "100000", "40000") for b in buyers)),
        )
    with insurer_scope():
        study = Study.objects.get(pk=study.pk)
        assert not StudyFile.objects.filter(study=study).exists()  # the bytes are discarded
    assert study.status == StudyStatus.DRAFT
    assert (study.lines_analysed, study.lines_accepted) == (6, 6)
    assert selectors.study_progress(study)["percent"] == 100


def test_the_arbiter_adjusts_a_line_within_the_rules_and_with_a_reason(world: World) -> None:
    buyer = graded_buyer(1, 9)
    study = study_at(world, "submitted", buyer_row(buyer.siren or "", "100000", "40000"))
    row = lines_of(study)[2]
    arbiter = world.staff[Role.ARBITER]
    with acting_as(arbiter):
        with pytest.raises(RuleViolation) as too_much:
            services.study_line_adjust(line_id=row.pk, amount=D("60500"), reason="x", actor=arbiter)
        assert too_much.value.field == "amount"
        with pytest.raises(RuleViolation) as no_reason:
            services.study_line_adjust(line_id=row.pk, amount=D("30000"), reason=" ", actor=arbiter)
        assert no_reason.value.field == "reason"
        services.study_line_adjust(
            line_id=row.pk, amount=D("30000"), reason="Bilan à confirmer", actor=arbiter
        )
    assert lines_of(study)[2].final_top_up == D("30000.00")
    with acting_as(world.broker_user), pytest.raises(Forbidden):
        services.study_line_adjust(
            line_id=row.pk, amount=D("1000"), reason="x", actor=world.broker_user
        )


def test_finalising_above_the_arbiters_authority_waits_for_a_senior(world: World) -> None:
    buyer = graded_buyer(1, 9)
    study = study_at(world, "submitted", buyer_row(buyer.siren or "", "100000", "40000"))
    arbiter, senior = world.staff[Role.ARBITER], world.staff[Role.SENIOR_ARBITER]
    arbiter.authority_amount = D("50000")
    arbiter.save(update_fields=["authority_amount"])
    with acting_as(arbiter):
        study = services.study_finalise(study_id=study.pk, actor=arbiter)
    assert study.status == StudyStatus.AWAITING_COUNTERSIGNATURE  # 60 000 > 50 000
    with acting_as(arbiter), pytest.raises(Forbidden):
        services.study_countersign(study_id=study.pk, actor=arbiter, approve=True)
    with acting_as(senior):
        study = services.study_countersign(study_id=study.pk, actor=senior, approve=True)
    assert study.status == StudyStatus.FINALISED
    assert (study.finalised_by, study.countersigned_by) == (arbiter, senior)
    assert study.total_top_up == D("60000.00")
    assert study.expires_on == business_today() + timedelta(days=30)


def test_acceptance_activates_the_contract_creates_the_guarantees_and_invites_the_contact(
    world: World,
) -> None:
    best, weak = graded_buyer(1, 9), graded_buyer(2, 2)
    study = study_at(
        world,
        "finalised",
        buyer_row(best.siren or "", "100000", "40000"),
        buyer_row(weak.siren or "", "50000", "20000"),
    )
    with acting_as(world.broker_user):
        services.study_accept(study_id=study.pk, actor=world.broker_user)
    with insurer_scope():
        contract = Contract.objects.get(pk=study.contract_id)
        assert (contract.status, contract.starts_on) == (ContractStatus.ACTIVE, business_today())
        cover = {(g.buyer_id, g.amount, g.period.lower) for g in contract.guarantees.all()}
    # Only the line with a top-up becomes a guarantee, from today.
    assert cover == {(best.pk, D("60000.00"), business_today())}
    contact = User.objects.get(email="camille@nouveau-grossiste.test")
    assert (contact.organisation_id, contact.role) == (contract.policyholder_id, Role.ORG_ADMIN)
    assert not contact.has_usable_password()
    mail.outbox.clear()
    deliveries_dispatch(delivery_ids=deliveries_pending(older_than=timedelta(0)))
    to_contact = [m.body for m in mail.outbox if m.to == [contact.email]]
    # The report's invitation (sent when it was issued), then, the broker having accepted for
    # the prospect, the link to choose a password.
    assert any("/invitation/" in body for body in to_contact)
    assert any("/reset/" in body and "mot de passe" in body for body in to_contact)


def test_a_failed_acceptance_leaves_nothing_half_done(world: World) -> None:
    buyer = graded_buyer(1, 9)
    study = study_at(world, "finalised", buyer_row(buyer.siren or "", "100000", "40000"))
    # Meanwhile the prospect got an active contract by another route: acceptance must refuse
    # and change nothing.
    with insurer_scope():
        Contract.objects.create(
            policyholder_id=study.policyholder_id,
            number="UP-OTHER-1",
            primary_insurer_name="Coface",
            primary_policy_number="X",
            status=ContractStatus.ACTIVE,
            starts_on=business_today(),
            monthly_rate=D("0.0012"),
        )
    events = AuditEvent.objects.count()
    with acting_as(world.broker_user), pytest.raises(Conflict):
        services.study_accept(study_id=study.pk, actor=world.broker_user)
    with insurer_scope():
        assert Study.objects.get(pk=study.pk).status == StudyStatus.FINALISED
        assert not Guarantee.objects.filter(contract_id=study.contract_id).exists()
    assert AuditEvent.objects.count() == events
    # The contact's account, opened for the invitation, still cannot sign in.
    assert not User.objects.get(email="camille@nouveau-grossiste.test").is_active


def test_an_existing_clients_study_replaces_its_cover_from_today(world: World) -> None:
    buyer = graded_buyer(1, 9)
    manager = world.alice.credit_manager
    with acting_as(manager):
        study = services.study_start(contract=world.alice.contract, actor=manager)
        services.study_upload(
            study_id=study.pk,
            content=buyer_list_csv(buyer_row(buyer.siren or "", "100000", "40000")),
            filename="liste.csv",
            actor=manager,
        )
        services.study_submit(study_id=study.pk, actor=manager)
    senior = world.staff[Role.SENIOR_ARBITER]
    with acting_as(senior):
        services.study_finalise(study_id=study.pk, actor=senior)
    with acting_as(manager):
        services.study_accept(study_id=study.pk, actor=manager)
    with insurer_scope():
        assert [
            g.amount for g in Guarantee.objects.filter(contract=world.alice.contract, buyer=buyer)
        ] == [D("60000.00")]


def test_a_report_not_answered_in_time_expires_and_can_no_longer_be_accepted(
    world: World,
) -> None:
    buyer = graded_buyer(1, 9)
    study = study_at(world, "finalised", buyer_row(buyer.siren or "", "100000", "40000"))
    with insurer_scope():
        assert services.studies_expire(today=business_today() + timedelta(days=30)) == 0
        assert services.studies_expire(today=business_today() + timedelta(days=31)) == 1
    with acting_as(world.broker_user), pytest.raises(Conflict):
        services.study_accept(study_id=study.pk, actor=world.broker_user)


def test_the_client_may_decline_the_report(world: World) -> None:
    buyer = graded_buyer(1, 9)
    study = study_at(world, "finalised", buyer_row(buyer.siren or "", "100000", "40000"))
    with acting_as(world.broker_user):
        study = services.study_decline(study_id=study.pk, actor=world.broker_user, note="Trop cher")
    assert (study.status, study.answer_note) == (StudyStatus.DECLINED, "Trop cher")
    with insurer_scope():
        assert not Guarantee.objects.filter(contract_id=study.contract_id).exists()


@pytest.mark.django_db(transaction=True)
def test_an_analysis_whose_kick_was_lost_is_restarted_by_the_sweep(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu.exceptions import OperationalError

    from studies import tasks
    from tests.support.billing import celery_eager

    def broker_down(**kwargs: object) -> None:
        raise OperationalError("redis unreachable")

    buyers = [graded_buyer(n) for n in range(5)]
    study = study_at(world, "new")
    monkeypatch.setattr(tasks.study_analyse_task, "delay", broker_down)
    with override_settings(STUDY_ASYNC_LINES=3):
        study = upload(
            study, world.broker_user, buyer_list_csv(*(buyer_row(b.siren or "") for b in buyers))
        )
    assert study.status == StudyStatus.ANALYSING  # committed, waiting for a worker that never came
    monkeypatch.undo()
    with insurer_scope():
        Study.objects.filter(pk=study.pk).update(
            uploaded_at=F("uploaded_at") - timedelta(minutes=6)
        )
    with celery_eager():
        assert tasks.studies_analyse_stalled_task() == 1
    with insurer_scope():
        study = Study.objects.get(pk=study.pk)
    assert (study.status, study.lines_accepted) == (StudyStatus.DRAFT, 5)
    assert tasks.studies_analyse_stalled_task() == 0

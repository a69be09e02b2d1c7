"""The prospect's contact answers the report from its invitation: nobody at the prospect can
sign in before, accepting sets the password and opens the contract in one step."""

from __future__ import annotations

import re
from datetime import timedelta

from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.models import Role, User
from portal.outbox import deliveries_dispatch, deliveries_pending
from studies import services
from studies.models import Study, StudyStatus
from tests.support.scopes import acting_as, insurer_scope
from tests.support.studies import buyer_row, graded_buyer, prospect_fields, study_at
from tests.support.world import World
from underwriting.models import ContractStatus, Guarantee

CONTACT = prospect_fields()["contact_email"]
PASSWORD = "Un-mot-de-passe-solide-2026"


def issued_report(world: World) -> tuple[Study, str]:
    """A prospect's study finalised by a senior arbiter; returns it and the invitation link."""
    buyer = graded_buyer(1)
    study = study_at(world, "finalised", buyer_row(buyer.siren or "", name="Revendeur"))
    mail.outbox.clear()
    deliveries_dispatch(delivery_ids=deliveries_pending(older_than=timedelta(0)))
    (message,) = [m for m in mail.outbox if m.to == [CONTACT]]
    match = re.search(r"https?://[^/]+(/studies/\S+/invitation/\S+/)", str(message.body))
    assert match is not None, message.body
    return study, match.group(1)


def test_the_contact_cannot_sign_in_before_accepting(world: World) -> None:
    issued_report(world)
    contact = User.objects.get(email=CONTACT)
    assert not contact.is_active and not contact.has_usable_password()
    attempt = Client().post(reverse("login"), {"username": CONTACT, "password": PASSWORD})
    assert attempt.status_code == 200 and "_auth_user_id" not in attempt.client.session


def test_the_contact_accepts_from_its_invitation_and_sees_its_guarantees(world: World) -> None:
    study, link = issued_report(world)
    client = Client()
    page = client.get(link)
    assert page.status_code == 200
    top_up = re.search(r'data-testid="invitation-top-up">([^<]+)<', page.content.decode())
    assert top_up is not None and re.sub(r"\D", "", top_up.group(1)) == "6000000"  # 60 000,00 €
    answer = client.post(link, {"answer": "accept", "password1": PASSWORD, "password2": PASSWORD})
    assert answer.status_code == 302 and answer["Location"] == reverse("guarantee_list")
    contact = User.objects.get(email=CONTACT)
    assert contact.is_active and contact.role == Role.ORG_ADMIN
    with insurer_scope():
        study.refresh_from_db()
        assert study.status == StudyStatus.ACCEPTED and study.answered_by == contact
        assert study.contract.status == ContractStatus.ACTIVE
        assert Guarantee.objects.filter(contract=study.contract).count() == 1
    guarantees = client.get(reverse("guarantee_list"))
    assert guarantees.status_code == 200 and "Revendeur" in guarantees.content.decode()
    # The link was for one use: the password is set, the token is spent.
    assert Client().get(link).status_code == 404


def test_a_weak_password_is_refused_naming_the_field_and_nothing_changes(world: World) -> None:
    study, link = issued_report(world)
    answer = Client().post(link, {"answer": "accept", "password1": "123", "password2": "123"})
    assert answer.status_code == 200 and "password1" in answer.context["form"].errors
    with insurer_scope():
        assert Study.objects.get(pk=study.pk).status == StudyStatus.FINALISED
    assert not User.objects.get(email=CONTACT).is_active


def test_the_contact_may_decline_and_its_account_stays_closed(world: World) -> None:
    study, link = issued_report(world)
    answer = Client().post(link, {"answer": "decline", "note": "Pas maintenant"})
    assert answer.status_code == 302
    with insurer_scope():
        assert Study.objects.get(pk=study.pk).status == StudyStatus.DECLINED
    assert not User.objects.get(email=CONTACT).is_active


def test_a_forged_or_foreign_link_is_a_404(world: World) -> None:
    study, link = issued_report(world)
    assert Client().get(link[:-6] + "abcde/").status_code == 404
    # The same token on another study of the platform is worthless.
    with acting_as(world.alice.credit_manager):
        other = services.study_start(
            contract=world.alice.contract, actor=world.alice.credit_manager
        )
    forged = link.replace(str(study.pk), str(other.pk))
    assert Client().get(forged).status_code == 404

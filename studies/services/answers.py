"""The client's answer to a study report: acceptance (the contract goes live with all its
guarantees, in one transaction), refusal, or expiry after the validity period."""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import Conflict
from portal.events import event_record, events_record_bulk
from portal.models import Role, User
from portal.timeutils import business_today
from studies.events import StudyEvent
from studies.models import LineVerdict, Study, StudyLine, StudyStatus
from studies.services.reviews import lock_study
from underwriting.events import UnderwritingEvent
from underwriting.models import Contract, ContractStatus, Guarantee, GuaranteeChange
from underwriting.services.periods import Terms, insurer_supersede, lock_contract, period_open


def _answerable(study: Study) -> None:
    if study.status != StudyStatus.FINALISED:
        raise Conflict(
            _("Cette étude n'attend pas de réponse (%(status)s).")
            % {"status": study.get_status_display()}
        )
    if study.expires_on is not None and study.expires_on < business_today():
        raise Conflict(_("Le rapport d'étude a expiré : demandez une nouvelle étude."))


def _activate(contract: Contract) -> None:
    lock_contract(contract)
    contract.refresh_from_db(fields=["status", "starts_on"])
    if contract.status == ContractStatus.ACTIVE:
        return
    if contract.status != ContractStatus.DRAFT:
        raise Conflict(_("Le contrat n'est plus en vigueur : l'étude ne peut pas l'activer."))
    if Contract.objects.filter(
        policyholder_id=contract.policyholder_id,
        status__in=[ContractStatus.ACTIVE, ContractStatus.SUSPENDED],
    ).exists():
        raise Conflict(_("Cet assuré a déjà un contrat en vigueur."))
    contract.status = ContractStatus.ACTIVE
    contract.starts_on = business_today()
    contract.save(update_fields=["status", "starts_on"])


def _grant_lines(*, study: Study, actor: User) -> int:
    """One guarantee period per line with a top-up, from today. A buyer the contract already
    covers has its cover replaced from today (an insurer change); the others are written in
    bulk, which a list of 20 000 buyers needs."""
    contract = study.contract
    today = business_today()
    note = _("Étude de portefeuille acceptée")
    lines = [
        line
        for line in StudyLine.objects.filter(study=study, verdict=LineVerdict.ACCEPTED)
        .select_related("buyer")
        .order_by("line_number")
        if line.final_top_up > 0 and line.buyer_id is not None
    ]
    covered = set(
        Guarantee.objects.filter(
            contract=contract, buyer_id__in=[line.buyer_id for line in lines]
        ).values_list("buyer_id", flat=True)
    )
    fresh: list[Guarantee] = []
    for line in lines:
        assert line.buyer is not None and line.primary_amount is not None
        terms = Terms(
            amount=line.final_top_up, primary_amount=line.primary_amount, exposure=line.exposure
        )
        if line.buyer_id in covered:
            insurer_supersede(
                contract=contract,
                buyer=line.buyer,
                on=today,
                change=GuaranteeChange.GRANT,
                actor=actor,
                note=note,
            )
            period_open(
                contract=contract,
                buyer=line.buyer,
                starts_on=today,
                terms=terms,
                change=GuaranteeChange.GRANT,
                actor=actor,
                note=note,
            )
            continue
        fresh.append(
            Guarantee(
                policyholder_id=contract.policyholder_id,
                contract=contract,
                buyer=line.buyer,
                amount=terms.amount,
                primary_amount=terms.primary_amount,
                exposure=terms.exposure,
                period=DateRange(today, None, "[)"),
                change=GuaranteeChange.GRANT,
                created_by=actor,
                note=note,
            )
        )
    if fresh:
        Guarantee.objects.bulk_create(fresh)
        events_record_bulk(
            action=UnderwritingEvent.GRANTED,
            actor=actor,
            items=[
                (
                    guarantee,
                    contract.policyholder_id,
                    {
                        "amount": str(guarantee.amount),
                        "from": today.isoformat(),
                        "study": str(study.pk),
                    },
                )
                for guarantee in fresh
            ],
        )
    return len(lines)


def _invite_contact(study: Study) -> User | None:
    if not study.is_prospect or not study.contact_email:
        return None
    email = study.contact_email.strip()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return None  # already on the platform (invited by another route): nothing to send
    first, _sep, last = study.contact_name.strip().partition(" ")
    user = User(
        username=email,
        email=email,
        first_name=first[:150],
        last_name=last[:150],
        organisation_id=study.policyholder_id,
        role=Role.ORG_ADMIN,
        is_active=True,
    )
    user.set_unusable_password()  # the invitation's link sets it
    user.save()
    return user


@transaction.atomic(durable=True)
def study_accept(*, study_id: UUID | str, actor: User) -> Study:
    """The client accepts the report: the contract is activated and every proposed top-up
    becomes a guarantee from today, all in this one transaction."""
    policy.require(policy.can_work_on_studies(actor))
    study = lock_study(study_id)
    _answerable(study)
    _activate(study.contract)
    granted = _grant_lines(study=study, actor=actor)
    study.status = StudyStatus.ACCEPTED
    study.answered_by = actor
    study.answered_at = timezone.now()
    study.save(update_fields=["status", "answered_by", "answered_at"])
    event_record(
        action=StudyEvent.ACCEPTED,
        actor=actor,
        obj=study,
        policyholder=study.policyholder,
        data={"guarantees": granted, "total_top_up": str(study.total_top_up)},
    )
    invited = _invite_contact(study)
    if invited is not None:
        event_record(
            action=StudyEvent.CONTACT_INVITED,
            actor=actor,
            obj=study,
            policyholder=study.policyholder,
            data={"user": invited.pk},
        )
    return study


@transaction.atomic(durable=True)
def study_decline(*, study_id: UUID | str, actor: User, note: str = "") -> Study:
    policy.require(policy.can_work_on_studies(actor))
    study = lock_study(study_id)
    _answerable(study)
    study.status = StudyStatus.DECLINED
    study.answered_by = actor
    study.answered_at = timezone.now()
    study.answer_note = note.strip()
    study.save(update_fields=["status", "answered_by", "answered_at", "answer_note"])
    event_record(
        action=StudyEvent.DECLINED,
        actor=actor,
        obj=study,
        policyholder=study.policyholder,
        reason=note,
    )
    return study


@transaction.atomic(durable=True)
def studies_expire(*, today: object = None) -> int:
    """Beat, nightly: a report not answered within its validity expires (call with the scope
    of all policyholders)."""
    day = today or business_today()
    expired = 0
    for study in (
        Study.objects.select_for_update(of=("self",))
        .filter(status=StudyStatus.FINALISED, expires_on__lt=day)
        .select_related("policyholder")
    ):
        study.status = StudyStatus.EXPIRED
        study.save(update_fields=["status"])
        event_record(
            action=StudyEvent.EXPIRED,
            actor=None,
            obj=study,
            policyholder=study.policyholder,
            data={"expires_on": str(study.expires_on)},
        )
        expired += 1
    return expired

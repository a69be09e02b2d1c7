"""The client's answer to a study report: acceptance (the contract goes live with all its
guarantees, in one transaction), refusal, or expiry after the validity period."""

from __future__ import annotations

from contextlib import AbstractContextManager
from uuid import UUID

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from portal import policy
from portal.errors import Conflict, NotFound, RuleViolation
from portal.events import event_record, events_record_bulk
from portal.models import User
from portal.tenancy import tenant_scope
from portal.timeutils import business_today
from studies.events import StudyEvent
from studies.models import LineVerdict, Study, StudyLine, StudyStatus
from studies.services.prospects import contact_account
from studies.services.reviews import aggregate_check, lock_study
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


def _accept(*, study: Study, actor: User) -> Study:
    _answerable(study)
    _activate(study.contract)
    aggregate_check(study, study.total_top_up)  # cover may have grown since the report
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
    return study


@transaction.atomic(durable=True)
def study_accept(*, study_id: UUID | str, actor: User) -> Study:
    """The client (or its broker) accepts the report: the contract is activated and every
    proposed top-up becomes a guarantee from today, all in this one transaction. A prospect's
    contact may now sign in: it is told how to choose its password."""
    policy.require(policy.can_work_on_studies(actor))
    study = _accept(study=lock_study(study_id), actor=actor)
    contact = contact_account(study)
    if contact is not None and not contact.is_active:
        contact.is_active = True
        contact.save(update_fields=["is_active"])
        event_record(
            action=StudyEvent.CONTACT_INVITED,
            actor=actor,
            obj=study,
            policyholder=study.policyholder,
            data={"user": contact.pk, "invitation": "password"},
        )
    return study


def _invited(
    *, study_id: UUID | str, uidb64: str, token: str, lock: bool = True
) -> tuple[Study, User]:
    """The study and its contact named by an invitation link; refused unless the link is the
    one sent to this study's contact and has not been used."""
    refused = NotFound(_("Ce lien d'invitation n'est pas (ou plus) valable."), field="token")
    try:
        user_pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise refused from None
    user = User.objects.filter(pk=user_pk, is_active=False).first()
    if not Study.objects.filter(pk=study_id).exists():
        raise refused
    study = (
        lock_study(study_id)
        if lock
        else Study.objects.select_related("policyholder").get(pk=study_id)
    )
    if (
        user is None
        or not study.is_prospect
        or user.organisation_id != study.policyholder_id
        or user.email.lower() != study.contact_email.strip().lower()
        or not default_token_generator.check_token(user, token)
    ):
        raise refused
    return study, user


def study_invitation(*, study_id: UUID | str, uidb64: str, token: str) -> tuple[Study, User]:
    """Read an invitation (the page that shows it before the contact answers)."""
    with _invitation_scope(study_id):
        return _invited(study_id=study_id, uidb64=uidb64, token=token, lock=False)


@transaction.atomic(durable=True)
def study_accept_invitation(
    *, study_id: UUID | str, uidb64: str, token: str, password: str
) -> User:
    """The prospect's contact accepts the study from its invitation and chooses its password in
    the same step: the contract goes live and the contact becomes the organisation's admin."""
    with _invitation_scope(study_id):
        study, contact = _invited(study_id=study_id, uidb64=uidb64, token=token)
        try:
            validate_password(password, user=contact)
        except ValidationError as error:
            raise RuleViolation(" ".join(error.messages), field="password") from None
        contact.set_password(password)
        contact.is_active = True
        contact.save(update_fields=["password", "is_active"])
        _accept(study=study, actor=contact)
    return contact


def _decline(*, study: Study, actor: User, note: str) -> Study:
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
def study_decline(*, study_id: UUID | str, actor: User, note: str = "") -> Study:
    policy.require(policy.can_work_on_studies(actor))
    return _decline(study=lock_study(study_id), actor=actor, note=note)


@transaction.atomic(durable=True)
def study_decline_invitation(*, study_id: UUID | str, uidb64: str, token: str, note: str) -> Study:
    """The prospect's contact declines from its invitation (its account stays closed)."""
    with _invitation_scope(study_id):
        study, contact = _invited(study_id=study_id, uidb64=uidb64, token=token)
        return _decline(study=study, actor=contact, note=note)


def _invitation_scope(study_id: UUID | str) -> AbstractContextManager[None]:
    """An invitation link is its own credential: the scope is the invited policyholder's."""
    with scopes_disabled():
        policyholder_id = (
            Study.objects.filter(pk=study_id).values_list("policyholder_id", flat=True).first()
        )
    return tenant_scope([policyholder_id] if policyholder_id else [])


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

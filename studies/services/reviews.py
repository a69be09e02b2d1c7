"""The insurer's side of a study: adjust a line's proposal, finalise the study (a decision: above
the arbiter's authority in total, a senior arbiter countersigns)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import Conflict, NotFound, RuleViolation
from portal.events import event_record
from portal.models import User
from portal.timeutils import business_today
from studies.events import StudyEvent
from studies.models import LineVerdict, Study, StudyLine, StudyStatus
from studies.services.prospects import contact_account
from underwriting.models import Guarantee
from underwriting.rules import eur, money

REVIEWABLE = (StudyStatus.SUBMITTED,)


def lock_study(study_id: UUID | str) -> Study:
    return (
        Study.objects.select_for_update(of=("self",))
        .select_related("contract__policyholder", "policyholder")
        .get(pk=study_id)
    )


@transaction.atomic(durable=True)
def study_line_adjust(
    *, line_id: UUID | str, amount: Decimal, reason: str, actor: User
) -> StudyLine:
    """The arbiter sets a line's top-up (within what the rules allow), with a reason."""
    policy.require(policy.can_finalise_studies(actor))
    line = StudyLine.objects.select_related("study").filter(pk=line_id).first()
    if line is None:
        raise NotFound(_("Ligne d'étude introuvable."), field="line")
    study = lock_study(line.study_id)
    if study.status not in REVIEWABLE:
        raise Conflict(_("Cette étude n'est plus en cours d'examen."))
    if line.verdict != LineVerdict.ACCEPTED:
        raise RuleViolation(_("Une ligne refusée n'a pas de proposition."), field="amount")
    if not reason.strip():
        raise RuleViolation(_("Motivez l'ajustement."), field="reason")
    amount = money(amount)
    ceiling = line.max_top_up or Decimal("0")
    if not Decimal("0") <= amount <= ceiling:
        raise RuleViolation(
            _("Le montant doit être compris entre 0 et %(max)s, le maximum des règles.")
            % {"max": eur(ceiling)},
            field="amount",
            max_top_up=str(ceiling),
        )
    previous = line.final_top_up
    line.adjusted_top_up = amount
    line.adjustment_reason = reason.strip()[:500]
    line.adjusted_by = actor
    line.save(update_fields=["adjusted_top_up", "adjustment_reason", "adjusted_by"])
    event_record(
        action=StudyEvent.LINE_ADJUSTED,
        actor=actor,
        obj=study,
        policyholder=study.policyholder,
        reason=reason,
        data={"line": line.line_number, "from": str(previous), "to": str(amount)},
    )
    return line


def _total(study: Study) -> Decimal:
    lines = StudyLine.objects.filter(study=study, verdict=LineVerdict.ACCEPTED)
    adjusted = lines.filter(adjusted_top_up__isnull=False).aggregate(t=Sum("adjusted_top_up"))
    proposed = lines.filter(adjusted_top_up__isnull=True).aggregate(t=Sum("proposed_top_up"))
    return money((adjusted["t"] or Decimal("0")) + (proposed["t"] or Decimal("0")))


def aggregate_check(study: Study, total: Decimal) -> None:
    """The contract's aggregate cap (DESIGN §4), if set, bounds the study's top-ups plus those
    in force today on the contract's other buyers."""
    cap = study.contract.aggregate_cap
    if cap is None:
        return
    buyers = StudyLine.objects.filter(
        study=study, verdict=LineVerdict.ACCEPTED, buyer__isnull=False
    ).values("buyer_id")
    elsewhere = Guarantee.objects.filter(
        contract=study.contract, period__contains=business_today()
    ).exclude(buyer_id__in=buyers).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    if total + elsewhere > cap:
        raise Conflict(
            _(
                "Les top-ups de l'étude (%(total)s) et ceux en vigueur sur les autres acheteurs "
                "(%(elsewhere)s) dépassent le plafond global du contrat (%(cap)s) : ajustez des "
                "lignes."
            )
            % {"total": eur(total), "elsewhere": eur(elsewhere), "cap": eur(cap)},
            field="total_top_up",
            aggregate_cap=str(cap),
        )


def _finalise(study: Study, *, finalised_by: User, countersigned_by: User | None) -> Study:
    study.status = StudyStatus.FINALISED
    study.finalised_by = finalised_by
    study.countersigned_by = countersigned_by
    study.finalised_at = timezone.now()
    study.expires_on = business_today() + timedelta(days=settings.STUDY_VALIDITY_DAYS)
    study.total_top_up = _total(study)
    aggregate_check(study, study.total_top_up)
    study.save(
        update_fields=[
            "status",
            "finalised_by",
            "countersigned_by",
            "finalised_at",
            "expires_on",
            "total_top_up",
        ]
    )
    event_record(
        action=StudyEvent.FINALISED,
        actor=countersigned_by or finalised_by,
        obj=study,
        policyholder=study.policyholder,
        data={"total_top_up": str(study.total_top_up), "expires_on": str(study.expires_on)},
    )
    contact = contact_account(study)
    if contact is not None and not contact.is_active:
        # A prospect's contact reads the report and answers from its invitation.
        event_record(
            action=StudyEvent.CONTACT_INVITED,
            actor=countersigned_by or finalised_by,
            obj=study,
            policyholder=study.policyholder,
            data={"user": contact.pk, "invitation": "report"},
        )
    return study


@transaction.atomic(durable=True)
def study_finalise(*, study_id: UUID | str, actor: User) -> Study:
    """Issue the report. Above the arbiter's authority in total, it waits for a senior arbiter's
    countersignature instead."""
    policy.require(policy.can_finalise_studies(actor))
    study = lock_study(study_id)
    if study.status not in REVIEWABLE:
        raise Conflict(_("Cette étude n'attend pas de finalisation."))
    total = _total(study)
    aggregate_check(study, total)
    if policy.decides_without_countersignature(actor) or (
        actor.authority_amount is not None and total <= actor.authority_amount
    ):
        return _finalise(study, finalised_by=actor, countersigned_by=None)
    study.status = StudyStatus.AWAITING_COUNTERSIGNATURE
    study.proposed_by = actor
    study.total_top_up = total
    study.save(update_fields=["status", "proposed_by", "total_top_up"])
    event_record(
        action=StudyEvent.COUNTERSIGNATURE_REQUESTED,
        actor=actor,
        obj=study,
        policyholder=study.policyholder,
        data={"total_top_up": str(total), "authority": str(actor.authority_amount)},
    )
    return study


@transaction.atomic(durable=True)
def study_countersign(*, study_id: UUID | str, actor: User, approve: bool, note: str = "") -> Study:
    study = lock_study(study_id)
    if study.status != StudyStatus.AWAITING_COUNTERSIGNATURE or study.proposed_by is None:
        raise Conflict(_("Cette étude n'attend pas de contre-signature."))
    policy.require(policy.can_countersign(actor, proposed_by_id=study.proposed_by_id))
    if approve:
        return _finalise(study, finalised_by=study.proposed_by, countersigned_by=actor)
    if not note.strip():
        raise RuleViolation(_("Motivez le rejet."), field="note")
    study.status = StudyStatus.SUBMITTED
    study.save(update_fields=["status"])
    event_record(
        action=StudyEvent.COUNTERSIGNATURE_DECLINED,
        actor=actor,
        obj=study,
        policyholder=study.policyholder,
        reason=note,
        data={"proposed_by": study.proposed_by_id},
    )
    return study

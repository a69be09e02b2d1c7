"""Who hears of each study event, and what they read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from portal import policy
from portal.events import Message, Recorded, notifies
from portal.models import OrganisationKind, Role, User
from studies.events import StudyEvent
from studies.models import Study


def _link(study: Study) -> str:
    return reverse("study_detail", kwargs={"study_id": study.pk})


def _client_side(study: Study) -> list[User]:
    """The policyholder's acting users, the broker's users, and whoever started the study."""
    users = list(
        User.objects.filter(
            organisation_id=study.policyholder_id,
            role__in=policy.POLICYHOLDER_ACTORS,
            is_active=True,
        )
    )
    if study.broker_id is not None:
        users += list(User.objects.filter(organisation_id=study.broker_id, is_active=True))
    return [*users, study.created_by]


def _insurer_side(study: Study) -> list[User]:
    arbiter = study.policyholder.dedicated_arbiter
    if arbiter is not None:
        return [arbiter]
    return list(
        User.objects.filter(
            organisation__kind=OrganisationKind.INSURER,
            role__in=policy.ASSIGNABLE_ARBITERS,
            is_active=True,
        )
    )


def _to(users: Iterable[User | None], study: Study, subject: str, body: str = "") -> list[Message]:
    return [
        Message(recipient=user, subject=subject, body=body, link=_link(study)) for user in users
    ]


@notifies(StudyEvent.SUBMITTED)
def study_submitted(item: Recorded, _context: Any) -> Iterable[Message]:
    study: Study = item.obj
    subject = _("Étude à examiner : %(name)s") % {"name": study.policyholder.name}
    body = _("%(accepted)s ligne(s) acceptée(s), %(refused)s refusée(s).") % item.event.data
    return _to(_insurer_side(study), study, subject, body)


@notifies(StudyEvent.COUNTERSIGNATURE_REQUESTED)
def study_countersignature_requested(item: Recorded, _context: Any) -> Iterable[Message]:
    study: Study = item.obj
    seniors = User.objects.filter(
        organisation__kind=OrganisationKind.INSURER, role=Role.SENIOR_ARBITER, is_active=True
    )
    if study.proposed_by_id is not None:
        seniors = seniors.exclude(pk=study.proposed_by_id)
    subject = _("Étude à contre-signer : %(name)s") % {"name": study.policyholder.name}
    return _to(seniors, study, subject)


@notifies(StudyEvent.COUNTERSIGNATURE_DECLINED)
def study_countersignature_declined(item: Recorded, _context: Any) -> Iterable[Message]:
    study: Study = item.obj
    subject = _("Contre-signature de l'étude rejetée : %(name)s") % {
        "name": study.policyholder.name
    }
    return _to([study.proposed_by], study, subject, item.event.reason)


@notifies(StudyEvent.FINALISED)
def study_finalised(item: Recorded, _context: Any) -> Iterable[Message]:
    study: Study = item.obj
    subject = _("Rapport d'étude disponible : %(name)s") % {"name": study.policyholder.name}
    body = _("Le rapport est valable jusqu'au %(date)s : acceptez-le pour activer le contrat.") % {
        "date": study.expires_on.strftime("%d/%m/%Y") if study.expires_on else "—"
    }
    return _to(_client_side(study), study, subject, body)


@notifies(StudyEvent.ACCEPTED, StudyEvent.DECLINED)
def study_answered(item: Recorded, _context: Any) -> Iterable[Message]:
    study: Study = item.obj
    if item.event.action == StudyEvent.ACCEPTED:
        subject = _("Étude acceptée : %(name)s, contrat actif") % {"name": study.policyholder.name}
    else:
        subject = _("Étude refusée par le client : %(name)s") % {"name": study.policyholder.name}
    users = [*_insurer_side(study), study.finalised_by, *_client_side(study)]
    return _to(users, study, subject, item.event.reason)


@notifies(StudyEvent.EXPIRED)
def study_expired(item: Recorded, _context: Any) -> Iterable[Message]:
    study: Study = item.obj
    subject = _("Rapport d'étude expiré : %(name)s") % {"name": study.policyholder.name}
    return _to(_client_side(study), study, subject)


@notifies(StudyEvent.CONTACT_INVITED)
def contact_invited(item: Recorded, _context: Any) -> Iterable[Message]:
    """The prospect's contact: first the report to answer (its account opens on acceptance),
    then, when the broker accepted for it, the link to choose its password."""
    study: Study = item.obj
    user = User.objects.filter(pk=int(item.event.data["user"])).first()
    if user is None:
        return []
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    name = study.policyholder.name
    if item.event.data.get("invitation") == "report":
        link = reverse(
            "study_invitation", kwargs={"study_id": study.pk, "uidb64": uidb64, "token": token}
        )
        subject = _("Votre étude de portefeuille Unlock Plus est prête : %(name)s") % {"name": name}
        body = _(
            "Votre courtier a fait étudier les acheteurs de %(name)s. Le rapport propose un "
            "top-up sur chacun d'eux : consultez-le et acceptez-le pour activer votre contrat. "
            "Vous choisirez alors votre mot de passe (identifiant : %(email)s)."
        ) % {"name": name, "email": user.email}
        return [Message(recipient=user, subject=subject, body=body, link=link, invitation=True)]
    link = reverse("password_reset_confirm", kwargs={"uidb64": uidb64, "token": token})
    subject = _("Bienvenue sur Unlock Plus : %(name)s") % {"name": name}
    body = _(
        "L'étude de portefeuille de %(name)s est acceptée et votre contrat est actif. "
        "Vous êtes l'administrateur de votre organisation : choisissez votre mot de passe "
        "avec le lien ci-dessous (identifiant : %(email)s)."
    ) % {"name": name, "email": user.email}
    return [Message(recipient=user, subject=subject, body=body, link=link)]

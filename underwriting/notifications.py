"""Who hears of each underwriting event, and what they read: subject, message and link.

The write services only record events (`underwriting/events.py`); this module is the one place
that turns them into messages. The client-facing text of a decision is its message to the
client, never the internal note.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from portal import policy
from portal.events import Message, Recorded, notifies
from portal.models import Organisation, OrganisationKind, Role, User
from underwriting.events import UnderwritingEvent
from underwriting.models import Contract, DecisionOutcome, Guarantee, GuaranteeRequest
from underwriting.rules import eur


def policyholder_recipients(policyholder: Organisation) -> list[User]:
    """The users who act on a policyholder's cover: its credit managers and org admins."""
    return list(
        User.objects.filter(
            organisation=policyholder,
            role__in=policy.POLICYHOLDER_ACTORS,
            is_active=True,
        ).order_by("pk")
    )


def _short(value: str) -> str:
    from datetime import date

    return date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")


def _buyer_page(guarantee: Guarantee) -> str:
    return reverse(
        "buyer_page", kwargs={"contract_id": guarantee.contract_id, "buyer_id": guarantee.buyer_id}
    )


@notifies(UnderwritingEvent.REQUEST_SUBMITTED)
def request_submitted(item: Recorded, _context: Any) -> Iterable[Message]:
    request: GuaranteeRequest = item.obj
    if item.event.data.get("instant") or request.assigned_to is None:
        return []
    return [
        Message(
            recipient=request.assigned_to,
            subject=_("Nouvelle demande de top-up : %(buyer)s") % {"buyer": request.buyer.name},
            body=_("%(policyholder)s demande %(amount)s.")
            % {"policyholder": request.policyholder.name, "amount": eur(request.requested_top_up)},
            link=reverse("arbiter_request", kwargs={"request_id": request.pk}),
        )
    ]


@notifies(UnderwritingEvent.COUNTERSIGNATURE_REQUESTED)
def countersignature_requested(item: Recorded, _context: Any) -> Iterable[Message]:
    request: GuaranteeRequest = item.obj
    actor = item.event.actor
    seniors = User.objects.filter(
        organisation__kind=OrganisationKind.INSURER, role=Role.SENIOR_ARBITER, is_active=True
    )
    if actor is not None:
        seniors = seniors.exclude(pk=actor.pk)
    outcome = DecisionOutcome(item.event.data["outcome"]).label
    return [
        Message(
            recipient=senior,
            subject=_("Contre-signature demandée : %(buyer)s, %(amount)s")
            % {"buyer": request.buyer.name, "amount": eur(Decimal(item.event.data["amount"]))},
            body=_("%(arbiter)s propose : %(outcome)s.") % {"arbiter": actor, "outcome": outcome},
            link=reverse("arbiter_request", kwargs={"request_id": request.pk}),
        )
        for senior in seniors
    ]


@notifies(UnderwritingEvent.COUNTERSIGNATURE_DECLINED)
def countersignature_declined(item: Recorded, _context: Any) -> Iterable[Message]:
    request: GuaranteeRequest = item.obj
    proposer = User.objects.filter(pk=int(item.event.data["proposed_by"])).first()
    if proposer is None:
        return []
    return [
        Message(
            recipient=proposer,
            subject=_("Contre-signature refusée : %(buyer)s") % {"buyer": request.buyer.name},
            body=item.event.reason,
            link=reverse("arbiter_request", kwargs={"request_id": request.pk}),
        )
    ]


def recipients_by_policyholder(recorded: Sequence[Recorded]) -> dict[UUID, list[User]]:
    """`policyholder_recipients` for every policyholder of a batch, in one query."""
    found: dict[UUID, list[User]] = defaultdict(list)
    for user in User.objects.filter(
        organisation_id__in={item.event.policyholder_id for item in recorded},
        role__in=policy.POLICYHOLDER_ACTORS,
        is_active=True,
    ).order_by("pk"):
        if user.organisation_id is not None:
            found[user.organisation_id].append(user)
    return found


@notifies(UnderwritingEvent.REQUEST_HELD, prepare=recipients_by_policyholder)
def request_held(item: Recorded, recipients: dict[UUID, list[User]]) -> Iterable[Message]:
    """The arbiter resumes or refuses; the policyholder learns why its request waits."""
    request: GuaranteeRequest = item.obj
    subject = _("Demande suspendue : %(buyer)s") % {"buyer": request.buyer.name}
    body = _("Procédure collective ouverte sur l'acheteur : %(reason)s.") % {
        "reason": item.event.data.get("reason", "")
    }
    arbiter = request.assigned_to or request.policyholder.dedicated_arbiter
    messages = [
        Message(
            recipient=user,
            subject=subject,
            body=body,
            link=reverse("request_detail", kwargs={"request_id": request.pk}),
        )
        for user in recipients.get(request.policyholder_id, [])
    ]
    if arbiter is not None:
        messages.append(
            Message(
                recipient=arbiter,
                subject=subject,
                body=_("Reprenez-la ou refusez-la.") + " " + body,
                link=reverse("arbiter_request", kwargs={"request_id": request.pk}),
            )
        )
    return messages


@notifies(UnderwritingEvent.REQUEST_RESUMED)
def request_resumed(item: Recorded, _context: Any) -> Iterable[Message]:
    request: GuaranteeRequest = item.obj
    return [
        Message(
            recipient=user,
            subject=_("Demande reprise par l'arbitre : %(buyer)s") % {"buyer": request.buyer.name},
            body=item.event.reason,
            link=reverse("request_detail", kwargs={"request_id": request.pk}),
        )
        for user in policyholder_recipients(request.policyholder)
    ]


@notifies(UnderwritingEvent.REQUEST_DECIDED)
def request_decided(item: Recorded, _context: Any) -> Iterable[Message]:
    request: GuaranteeRequest = item.obj
    decision = request.decision
    amount = eur(decision.amount)
    subject = {
        DecisionOutcome.APPROVED: _("Top-up accordé : %(buyer)s, %(amount)s"),
        DecisionOutcome.PARTLY_APPROVED: _("Top-up accordé partiellement : %(buyer)s, %(amount)s"),
        DecisionOutcome.REFUSED: _("Top-up refusé : %(buyer)s"),
    }[DecisionOutcome(decision.outcome)] % {"buyer": request.buyer.name, "amount": amount}
    # The policyholder reads the message to the client, never the internal note.
    body = decision.client_message
    link = reverse("request_detail", kwargs={"request_id": request.pk})
    recipients = [*policyholder_recipients(request.policyholder), request.submitted_by]
    return [Message(recipient=user, subject=subject, body=body, link=link) for user in recipients]


def _change_message(
    item: Recorded, what: str, recipients: list[User] | None = None
) -> list[Message]:
    guarantee: Guarantee = item.obj
    subject = _("%(what)s : %(buyer)s, à partir du %(date)s") % {
        "what": what,
        "buyer": guarantee.buyer.name,
        "date": _short(item.event.data["from"]),
    }
    if recipients is None:
        recipients = policyholder_recipients(guarantee.policyholder)
    return [
        Message(
            recipient=user, subject=subject, body=item.event.reason, link=_buyer_page(guarantee)
        )
        for user in recipients
    ]


@notifies(UnderwritingEvent.REDUCED)
def guarantee_reduced(item: Recorded, _context: Any) -> Iterable[Message]:
    if item.event.data.get("decision"):
        return []  # a partial approval below the limit in force: the decision tells it
    what = _("Top-up réduit à %(amount)s") % {"amount": eur(item.obj.amount)}
    return _change_message(item, what)


@notifies(UnderwritingEvent.CANCELLED)
def guarantee_cancelled(item: Recorded, _context: Any) -> Iterable[Message]:
    return _change_message(item, _("Top-up annulé"))


@notifies(UnderwritingEvent.ENDED_BY_LIQUIDATION, prepare=recipients_by_policyholder)
def guarantee_ended_by_liquidation(
    item: Recorded, recipients: dict[UUID, list[User]]
) -> Iterable[Message]:
    return _change_message(
        item,
        _("Top-up terminé (liquidation judiciaire de l'acheteur)"),
        recipients.get(item.obj.policyholder_id, []),
    )


@notifies(UnderwritingEvent.PRIMARY_FOLLOWED)
def primary_followed(item: Recorded, _context: Any) -> Iterable[Message]:
    guarantee: Guarantee = item.obj
    data = item.event.data
    amount, previous = Decimal(data["amount"]), Decimal(data["previous_amount"])
    if amount >= previous and amount > 0:
        return []  # the top-up stays as it was: nothing to tell
    if amount == 0:
        what = _("Top-up terminé (limite primaire à zéro)")
    else:
        what = _("Top-up ramené à %(amount)s (suivi du primaire)") % {"amount": eur(amount)}
    recipients = [
        *policyholder_recipients(guarantee.policyholder),
        guarantee.policyholder.dedicated_arbiter,
        item.event.actor,
    ]
    return [
        Message(
            recipient=user,
            subject=f"{what} : {guarantee.buyer.name}",
            body=item.event.reason,
            link=_buyer_page(guarantee),
        )
        for user in recipients
    ]


@notifies(UnderwritingEvent.EXPIRED)
def guarantee_expired(item: Recorded, _context: Any) -> Iterable[Message]:
    from datetime import date, timedelta

    guarantee: Guarantee = item.obj
    last_day = date.fromisoformat(item.event.data["ended_on"]) - timedelta(days=1)
    subject = _("Limite saisonnière échue : %(buyer)s") % {"buyer": guarantee.buyer.name}
    body = _("Le top-up de %(amount)s a pris fin le %(date)s au soir.") % {
        "amount": eur(guarantee.amount),
        "date": date_format(last_day, "SHORT_DATE_FORMAT"),
    }
    return [
        Message(recipient=user, subject=subject, body=body, link=_buyer_page(guarantee))
        for user in policyholder_recipients(guarantee.policyholder)
    ]


@notifies(UnderwritingEvent.CONTRACT_TERMINATED, UnderwritingEvent.CONTRACT_SUSPENDED)
def contract_ended(item: Recorded, _context: Any) -> Iterable[Message]:
    contract: Contract = item.obj
    data = item.event.data
    if item.event.action == UnderwritingEvent.CONTRACT_TERMINATED:
        what = _("Contrat %(number)s résilié à compter du %(date)s")
    else:
        what = _("Contrat %(number)s suspendu à compter du %(date)s")
    subject = what % {"number": contract.number, "date": _short(data["from"])}
    body = _("%(count)s top-up(s) prennent fin à cette date. Motif : %(reason)s") % {
        "count": data["guarantees_ended"],
        "reason": item.event.reason,
    }
    link = reverse("contract_detail", kwargs={"contract_id": contract.pk})
    recipients = [
        *policyholder_recipients(contract.policyholder),
        *User.objects.filter(organisation=contract.policyholder, role=Role.FINANCE, is_active=True),
        contract.policyholder.dedicated_arbiter,
    ]
    return [Message(recipient=user, subject=subject, body=body, link=link) for user in recipients]

"""Who hears of each claim event: every change reaches the policyholder's credit managers and
org admins and the users of its brokers with a current mandate; a declaration reaches the claims
handlers; a countersignature request reaches the senior arbiters and insurer admins."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from claims.events import ClaimEvent
from claims.models import Claim
from portal import policy
from portal.events import Message, Recorded, notifies
from portal.models import Mandate, OrganisationKind, Role, User
from portal.timeutils import business_today
from underwriting.notifications import policyholder_recipients
from underwriting.rules import eur

CLIENT_EVENTS = (
    ClaimEvent.DECLARED,
    ClaimEvent.INVOICES_ADDED,
    ClaimEvent.RECOVERY_STARTED,
    ClaimEvent.RECOVERED,
    ClaimEvent.BUYER_PAYMENT,
    ClaimEvent.PRIMARY_SETTLED,
    ClaimEvent.PRIMARY_DECLINED,
    ClaimEvent.INDEMNITY_COMPUTED,
    ClaimEvent.APPROVED,
    ClaimEvent.PAID,
    ClaimEvent.RECOVERY_RECORDED,
    ClaimEvent.DECLINED,
    ClaimEvent.CLOSED,
)


def brokers_of(claim: Claim) -> list[User]:
    today = business_today()
    brokers = (
        Mandate.objects.filter(policyholder=claim.policyholder, starts_on__lte=today)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .values_list("broker_id", flat=True)
    )
    return list(User.objects.filter(organisation_id__in=brokers, role=Role.BROKER, is_active=True))


def _insurer(*roles: str) -> list[User]:
    return list(
        User.objects.filter(
            organisation__kind=OrganisationKind.INSURER, role__in=roles, is_active=True
        ).order_by("pk")
    )


def _what(item: Recorded) -> str:
    claim: Claim = item.obj
    data = item.event.data
    amount = eur(Decimal(data["amount"])) if data.get("amount") else ""
    texts = {
        ClaimEvent.DECLARED: _("Sinistre déclaré"),
        ClaimEvent.INVOICES_ADDED: _("Factures ajoutées au sinistre"),
        ClaimEvent.RECOVERY_STARTED: _("Recouvrement engagé"),
        ClaimEvent.RECOVERED: _("L'acheteur a payé"),
        ClaimEvent.BUYER_PAYMENT: _("Paiement de l'acheteur enregistré : %(amount)s"),
        ClaimEvent.PRIMARY_SETTLED: _("Règlement du primaire enregistré : %(amount)s"),
        ClaimEvent.PRIMARY_DECLINED: _("Refus du primaire enregistré"),
        ClaimEvent.INDEMNITY_COMPUTED: _("Indemnité top-up calculée : %(amount)s"),
        ClaimEvent.APPROVED: _("Indemnité top-up approuvée : %(amount)s"),
        ClaimEvent.PAID: _("Indemnité top-up payée : %(amount)s"),
        ClaimEvent.RECOVERY_RECORDED: _("Recours enregistré : %(amount)s"),
        ClaimEvent.DECLINED: _("Sinistre refusé"),
        ClaimEvent.CLOSED: _("Sinistre clos"),
    }
    text = texts[ClaimEvent(item.event.action)] % {"amount": amount}
    return _("%(what)s (%(number)s, %(buyer)s)") % {
        "what": text,
        "number": claim.number,
        "buyer": claim.buyer.name,
    }


@notifies(*CLIENT_EVENTS)
def claim_changed(item: Recorded, _context: Any) -> Iterable[Message]:
    claim: Claim = item.obj
    subject = _what(item)
    client_link = reverse("claim_detail", kwargs={"claim_id": claim.pk})
    messages = [
        Message(recipient=user, subject=subject, body=item.event.reason, link=client_link)
        for user in [*policyholder_recipients(claim.policyholder), *brokers_of(claim)]
    ]
    if item.event.action == ClaimEvent.DECLARED.value:
        handlers = [claim.handler] if claim.handler else _insurer(Role.CLAIMS_HANDLER)
        link = reverse("claim_handle", kwargs={"claim_id": claim.pk})
        messages += [Message(recipient=user, subject=subject, link=link) for user in handlers]
    return messages


@notifies(ClaimEvent.COUNTERSIGNATURE_REQUESTED)
def countersignature_requested(item: Recorded, _context: Any) -> Iterable[Message]:
    claim: Claim = item.obj
    subject = _("Contre-signature d'indemnité : %(number)s, %(amount)s") % {
        "number": claim.number,
        "amount": eur(Decimal(item.event.data["amount"])),
    }
    link = reverse("claim_handle", kwargs={"claim_id": claim.pk})
    return [
        Message(recipient=user, subject=subject, link=link)
        for user in _insurer(Role.SENIOR_ARBITER, Role.ADMIN)
        if policy.can_countersign_indemnity(user, proposed_by_id=item.event.actor_id)
    ]


@notifies(ClaimEvent.COUNTERSIGNATURE_DECLINED)
def countersignature_declined(item: Recorded, _context: Any) -> Iterable[Message]:
    claim: Claim = item.obj
    if claim.approved_by is None:
        return []
    return [
        Message(
            recipient=claim.approved_by,
            subject=_("Contre-signature refusée : %(number)s") % {"number": claim.number},
            body=item.event.reason,
            link=reverse("claim_handle", kwargs={"claim_id": claim.pk}),
        )
    ]

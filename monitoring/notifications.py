"""Who hears of each monitoring event, and what they read.

An alert reaches, once, the exposed policyholders' credit managers and org admins, the users of
the brokers holding a current mandate for one of them, and their arbiters (each policyholder's
dedicated arbiter and the arbiters assigned to its open requests on the buyer). The exposed
policyholders are those the alert recorded (`AlertExposure`); nobody else is addressed.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from django.db.models import Q
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from monitoring.events import MonitoringEvent
from monitoring.models import (
    Alert,
    AlertExposure,
    AlertRule,
    BuyerInsight,
    InsightExposure,
    JudgmentEvent,
    Outlook,
)
from portal import policy
from portal.events import Message, Recorded, notifies
from portal.models import Mandate, Organisation, Role, User
from portal.timeutils import business_today
from underwriting.models import OPEN_STATUSES, Buyer, Contract, ContractStatus, GuaranteeRequest
from underwriting.rules import eur


@dataclass
class Audience:
    """The parties of a batch of alerts, loaded in a few queries."""

    exposed: dict[UUID, list[UUID]] = field(default_factory=dict)  # alert → policyholders
    users: dict[UUID, list[User]] = field(default_factory=lambda: defaultdict(list))
    brokers: dict[UUID, list[User]] = field(default_factory=lambda: defaultdict(list))
    arbiters: dict[UUID, list[User]] = field(default_factory=lambda: defaultdict(list))
    assigned: dict[tuple[UUID, UUID], list[User]] = field(default_factory=lambda: defaultdict(list))
    contracts: dict[UUID, UUID] = field(default_factory=dict)  # policyholder → contract
    buyer_names: dict[UUID, str] = field(default_factory=dict)


def audience_load(recorded: Sequence[Recorded]) -> Audience:
    audience = Audience()
    alert_ids = [item.obj.pk for item in recorded]
    with scopes_disabled():
        exposed: dict[UUID, list[UUID]] = defaultdict(list)
        for alert_id, policyholder_id in AlertExposure.objects.filter(
            alert_id__any=alert_ids
        ).values_list("alert_id", "policyholder_id"):
            exposed[alert_id].append(policyholder_id)
        audience.exposed = exposed
        policyholders = {ph for phs in exposed.values() for ph in phs}
        if not policyholders:
            return audience
        for user in User.objects.filter(
            organisation_id__in=policyholders, role__in=policy.POLICYHOLDER_ACTORS, is_active=True
        ).order_by("pk"):
            if user.organisation_id is not None:
                audience.users[user.organisation_id].append(user)
        today = business_today()
        mandates = (
            Mandate.objects.filter(policyholder_id__in=policyholders, starts_on__lte=today)
            .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
            .values_list("policyholder_id", "broker_id")
        )
        by_broker: dict[UUID, list[UUID]] = defaultdict(list)
        for policyholder_id, broker_id in mandates:
            by_broker[broker_id].append(policyholder_id)
        for user in User.objects.filter(
            organisation_id__in=list(by_broker), role=Role.BROKER, is_active=True
        ).order_by("pk"):
            for policyholder_id in by_broker.get(user.organisation_id or UUID(int=0), []):
                audience.brokers[policyholder_id].append(user)
        for organisation in Organisation.objects.filter(
            pk__in=policyholders, dedicated_arbiter__isnull=False
        ).select_related("dedicated_arbiter"):
            if organisation.dedicated_arbiter is not None:
                audience.arbiters[organisation.pk].append(organisation.dedicated_arbiter)
        buyers = {item.obj.buyer_id for item in recorded if item.obj.pk in audience.exposed}
        audience.buyer_names = dict(Buyer.objects.filter(pk__in=buyers).values_list("pk", "name"))
        for request in GuaranteeRequest.objects.filter(
            policyholder_id__in=policyholders,
            buyer_id__in=buyers,
            status__in=OPEN_STATUSES,
            assigned_to__isnull=False,
        ).select_related("assigned_to"):
            if request.assigned_to is not None:
                audience.assigned[(request.policyholder_id, request.buyer_id)].append(
                    request.assigned_to
                )
        audience.contracts = dict(
            Contract.objects.filter(
                policyholder_id__in=policyholders,
                status__in=[ContractStatus.ACTIVE, ContractStatus.SUSPENDED],
            ).values_list("policyholder_id", "pk")
        )
    return audience


def _short(value: date | str) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return date_format(day, "SHORT_DATE_FORMAT")


def alert_text(alert: Alert, *, buyer: str) -> tuple[str, str]:
    """Subject and message of an alert, the same for every party (no tenant's figures)."""
    data = alert.data
    if alert.rule == AlertRule.PROCEEDINGS:
        subject = _("Alerte : %(event)s, %(buyer)s") % {
            "event": JudgmentEvent(data["event"]).label.lower(),
            "buyer": buyer,
        }
        body = _("%(nature)s, jugement du %(date)s%(court)s.") % {
            "nature": data.get("nature") or JudgmentEvent(data["event"]).label,
            "date": _short(data["judged_on"]),
            "court": f" ({data['court']})" if data.get("court") else "",
        }
    elif alert.rule == AlertRule.PRIMARY_REDUCED:
        subject = _("Alerte : réduction de limite primaire signalée, %(buyer)s") % {"buyer": buyer}
        body = _(
            "Un assureur-crédit primaire a réduit sa limite sur cet acheteur à partir du %(date)s."
        ) % {"date": _short(alert.occurred_on)}
    else:
        subject = _("Alerte : note de %(buyer)s passée de %(from)s à %(to)s") % {
            "buyer": buyer,
            "from": data["from"],
            "to": data["to"],
        }
        body = " ; ".join(str(AlertRule(rule).label) for rule in alert.rules) + "."
    return subject, body


@functools.cache
def _pattern(name: str, keys: tuple[str, ...]) -> str:
    """The URL of `name` with a marker in place of each id: reversed once, not per message."""
    return reverse(name, kwargs={key: UUID(int=index + 1) for index, key in enumerate(keys)})


def _link(name: str, **ids: UUID) -> str:
    """`reverse(name, kwargs=ids)` for uuid kwargs, from a pattern reversed once (a sweep writes
    tens of thousands of links)."""
    keys = tuple(sorted(ids))
    url = _pattern(name, keys)
    for index, key in enumerate(keys):
        url = url.replace(str(UUID(int=index + 1)), str(ids[key]))
    return url


@notifies(MonitoringEvent.ALERT_RAISED, prepare=audience_load)
def alert_raised(item: Recorded, audience: Audience) -> Iterable[Message]:
    alert: Alert = item.obj
    if not audience.exposed.get(alert.pk):
        return []
    subject, body = alert_text(alert, buyer=audience.buyer_names[alert.buyer_id])
    risk_file = _link("buyer_risk_file", buyer_id=alert.buyer_id)
    messages: list[Message] = []
    for policyholder_id in audience.exposed.get(alert.pk, []):
        contract_id = audience.contracts.get(policyholder_id)
        link = (
            _link("buyer_page", contract_id=contract_id, buyer_id=alert.buyer_id)
            if contract_id
            else _link("alerts")
        )
        for user in [*audience.users[policyholder_id], *audience.brokers[policyholder_id]]:
            messages.append(
                Message(
                    recipient=user,
                    subject=subject,
                    body=body,
                    link=link,
                    policyholder_id=policyholder_id,
                )
            )
        for arbiter in [
            *audience.arbiters[policyholder_id],
            *audience.assigned[(policyholder_id, alert.buyer_id)],
        ]:
            messages.append(Message(recipient=arbiter, subject=subject, body=body, link=risk_file))
    return messages


# --- expert insights on buyers --------------------------------------------------------------
# An insight reaches, once, the credit managers and org admins of each policyholder it recorded
# as exposed (`InsightExposure`) and the users of the brokers holding a current mandate for one
# of them; nobody else (not the arbiters: one of them wrote it).


@dataclass
class InsightAudience:
    exposed: dict[UUID, list[UUID]] = field(default_factory=dict)  # insight → policyholders
    parties: dict[UUID, list[User]] = field(default_factory=lambda: defaultdict(list))
    contracts: dict[UUID, UUID] = field(default_factory=dict)  # policyholder → active contract
    buyer_names: dict[UUID, str] = field(default_factory=dict)


def insight_audience_load(recorded: Sequence[Recorded]) -> InsightAudience:
    audience = InsightAudience()
    with scopes_disabled():
        exposed: dict[UUID, list[UUID]] = defaultdict(list)
        for insight_id, policyholder_id in InsightExposure.objects.filter(
            insight_id__in=[item.obj.pk for item in recorded]
        ).values_list("insight_id", "policyholder_id"):
            exposed[insight_id].append(policyholder_id)
        audience.exposed = exposed
        policyholders = {ph for phs in exposed.values() for ph in phs}
        if not policyholders:
            return audience
        today = business_today()
        brokers: dict[UUID, list[UUID]] = defaultdict(list)  # broker → its exposed clients
        for policyholder_id, broker_id in (
            Mandate.objects.filter(policyholder_id__in=policyholders, starts_on__lte=today)
            .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
            .values_list("policyholder_id", "broker_id")
        ):
            brokers[broker_id].append(policyholder_id)
        for user in User.objects.filter(
            Q(organisation_id__in=policyholders, role__in=policy.POLICYHOLDER_ACTORS)
            | Q(organisation_id__in=list(brokers), role=Role.BROKER),
            is_active=True,
        ).order_by("pk"):
            organisation_id = user.organisation_id or UUID(int=0)
            for policyholder_id in brokers.get(organisation_id, [organisation_id]):
                audience.parties[policyholder_id].append(user)
        audience.contracts = dict(
            Contract.objects.filter(
                policyholder_id__in=policyholders, status=ContractStatus.ACTIVE
            ).values_list("policyholder_id", "pk")
        )
        audience.buyer_names = dict(
            Buyer.objects.filter(pk__in={item.obj.buyer_id for item in recorded}).values_list(
                "pk", "name"
            )
        )
    return audience


def insight_text(insight: BuyerInsight, *, buyer: str) -> tuple[str, str]:
    """Subject and message of an insight, the same for every party."""
    subject = _("Analyse de votre arbitre : %(buyer)s, perspective %(outlook)s") % {
        "buyer": buyer,
        "outlook": str(Outlook(insight.outlook).label).lower(),
    }
    body = insight.assessment
    low, high = insight.recommended_min, insight.recommended_max
    if low is not None and high is not None:
        body += "\n" + _("Limite recommandée : de %(min)s à %(max)s.") % {
            "min": eur(low),
            "max": eur(high),
        }
    elif low is not None:
        body += "\n" + _("Limite recommandée : au moins %(min)s.") % {"min": eur(low)}
    elif high is not None:
        body += "\n" + _("Limite recommandée : au plus %(max)s.") % {"max": eur(high)}
    return subject, body


@notifies(MonitoringEvent.INSIGHT_PUBLISHED, prepare=insight_audience_load)
def insight_published(item: Recorded, audience: InsightAudience) -> Iterable[Message]:
    insight: BuyerInsight = item.obj
    policyholders = audience.exposed.get(insight.pk, [])
    if not policyholders:
        return []
    subject, body = insight_text(insight, buyer=audience.buyer_names[insight.buyer_id])
    messages: list[Message] = []
    for policyholder_id in policyholders:
        contract_id = audience.contracts.get(policyholder_id)
        link = (
            _link("buyer_page", contract_id=contract_id, buyer_id=insight.buyer_id)
            if contract_id
            else _link("alerts")
        )
        # A broker of two exposed clients hears once (the event's deliveries are per person).
        for user in audience.parties[policyholder_id]:
            messages.append(
                Message(
                    recipient=user,
                    subject=subject,
                    body=body,
                    link=link,
                    policyholder_id=policyholder_id,
                )
            )
    return messages

"""Alerts: each fact about a buyer's health reaches, once, every policyholder exposed to the
buyer (a top-up in force or an open request), their brokers and their arbiters; nobody else.

Who was exposed is kept (`AlertExposure`, the policyholder's alert feed); the notifier
(`monitoring/notifications.py`) reads it to address the messages. Alerts are raised with the
scope of all policyholders (the fan-out crosses tenants by design; each message is one
recipient's)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from django.db.models import Sum
from django_scopes import scopes_disabled

from monitoring.events import MonitoringEvent
from monitoring.models import Alert, AlertExposure, AlertRule
from portal.bulk import chunks
from portal.events import events_record_bulk
from portal.models import User
from portal.timeutils import business_today
from underwriting.models import OPEN_STATUSES, Guarantee, GuaranteeRequest


@dataclass
class Exposure:
    top_up: Decimal = Decimal("0")
    open_request: bool = False


def exposures_on(buyer_ids: Iterable[UUID], *, on: date) -> dict[UUID, dict[UUID, Exposure]]:
    """For each buyer, the policyholders exposed to it on `on`: top-up in force, open request."""
    exposed: dict[UUID, dict[UUID, Exposure]] = defaultdict(dict)
    for chunk in chunks(sorted(set(buyer_ids))):
        for buyer_id, policyholder_id, top_up in (
            Guarantee.objects.filter(buyer_id__any=chunk, period__contains=on)
            .values("buyer_id", "policyholder_id")
            .annotate(total=Sum("amount"))
            .values_list("buyer_id", "policyholder_id", "total")
        ):
            exposed[buyer_id].setdefault(policyholder_id, Exposure()).top_up = top_up
        for buyer_id, policyholder_id in GuaranteeRequest.objects.filter(
            buyer_id__any=chunk, status__in=OPEN_STATUSES
        ).values_list("buyer_id", "policyholder_id"):
            exposed[buyer_id].setdefault(policyholder_id, Exposure()).open_request = True
    return exposed


def alerts_raise(
    candidates: Sequence[Alert], *, today: date | None = None, actor: User | None = None
) -> list[Alert]:
    """Record the alerts not raised before (by key) and tell their exposed parties. Runs in the
    caller's transaction; returns the new alerts."""
    today = today or business_today()
    by_key: dict[str, Alert] = {}
    for alert in candidates:
        by_key.setdefault(alert.key, alert)
    if not by_key:
        return []
    with scopes_disabled():
        known: set[str] = set()
        for chunk in chunks(sorted(by_key)):
            known.update(Alert.objects.filter(key__any=chunk).values_list("key", flat=True))
        new = [alert for key, alert in by_key.items() if key not in known]
        Alert.objects.bulk_create(new, batch_size=2_000)
        exposed = exposures_on((alert.buyer_id for alert in new), on=today)
        AlertExposure.objects.bulk_create(
            [
                AlertExposure(
                    alert=alert,
                    policyholder_id=policyholder_id,
                    top_up=exposure.top_up,
                    open_request=exposure.open_request,
                )
                for alert in new
                for policyholder_id, exposure in exposed.get(alert.buyer_id, {}).items()
            ],
            batch_size=2_000,
        )
        # The event (audit row and deliveries) of an alert that reaches somebody; an alert on
        # a buyer nobody is exposed to is kept (the Alert row) and tells no one.
        events_record_bulk(
            action=MonitoringEvent.ALERT_RAISED,
            actor=actor,
            items=[
                (
                    alert,
                    None,
                    {"rule": alert.rule, "rules": alert.rules, "buyer": str(alert.buyer_id)},
                )
                for alert in new
                if exposed.get(alert.buyer_id)
            ],
        )
    return new


def primary_reduction_alert(
    *, guarantee: Guarantee, effective_on: date, previous: Decimal, reported: Decimal, actor: User
) -> Alert | None:
    """A wholesaler reported a lower primary limit on a buyer: every party exposed to the buyer
    hears of it (the reporter and the amounts are not named to the others)."""
    raised = alerts_raise(
        [
            Alert(
                key=f"primary:{guarantee.pk}:{effective_on.isoformat()}:{reported}",
                buyer_id=guarantee.buyer_id,
                rule=AlertRule.PRIMARY_REDUCED,
                rules=[AlertRule.PRIMARY_REDUCED.value],
                occurred_on=effective_on,
                guarantee=guarantee,
                data={"reported_by": str(guarantee.policyholder_id)},
            )
        ],
        actor=actor,
    )
    return raised[0] if raised else None

"""Expert insights on buyers (DESIGN §4 "Dedicated arbiter"): an arbiter publishes a dated view
of a buyer's health; it reaches, once, every policyholder exposed to the buyer now (a top-up in
force or an open request) and nobody else.

An insight is immutable once published (a database trigger refuses UPDATE and DELETE); a newer
one names the insight it supersedes, which stays in the history. Which policyholders it reached
is kept (`InsightExposure`, their alert feed); the notifier reads it to address the messages.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from monitoring.events import MonitoringEvent
from monitoring.models import ASSESSMENT_MAX_LENGTH, BuyerInsight, InsightExposure, Outlook
from monitoring.services.alerts import exposures_on
from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User
from portal.money import money
from portal.timeutils import business_today
from underwriting.models import Buyer

# Decimal(14, 2): the largest amount a recommended limit may name.
AMOUNT_CEILING = Decimal("1e12")
LOCK_ATTEMPTS = 5


def _amount(value: Decimal | int | str | None, *, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = money(value)
    except (InvalidOperation, ValueError, TypeError):
        raise RuleViolation(_("Saisissez un montant en euros."), field=field) from None
    if not amount.is_finite() or amount < 0 or amount >= AMOUNT_CEILING:
        raise RuleViolation(_("Le montant doit être positif ou nul."), field=field)
    return amount


def _latest_locked(buyer: Buyer) -> BuyerInsight | None:
    """The buyer's current insight (superseded by none), locked until commit, so two arbiters
    publishing at once are ordered: the second supersedes the first's insight."""
    newer = BuyerInsight.objects.filter(supersedes=OuterRef("pk"))
    for _attempt in range(LOCK_ATTEMPTS):
        latest = (
            BuyerInsight.objects.select_for_update()
            .filter(buyer=buyer)
            .exclude(Exists(newer))
            .order_by("-published_at", "-id")
            .first()
        )
        # The lock may have been granted after a concurrent publication committed its own
        # insight on top of this one: read again, from the new latest.
        if latest is None or not BuyerInsight.objects.filter(supersedes=latest).exists():
            return latest
    raise Conflict(_("Une autre analyse vient d'être publiée sur cet acheteur : réessayez."))


@transaction.atomic(durable=True)
def buyer_insight_publish(
    *,
    buyer: Buyer,
    assessment: str,
    outlook: str,
    recommended_min: Decimal | int | str | None = None,
    recommended_max: Decimal | int | str | None = None,
    actor: User,
) -> BuyerInsight:
    """Publish an insight on `buyer`: it supersedes the buyer's latest, reaches the
    policyholders exposed to the buyer today and tells their users and mandated brokers."""
    policy.require(policy.can_publish_insights(actor))
    assessment = (assessment or "").strip()
    if not assessment:
        raise RuleViolation(_("Rédigez l'analyse."), field="assessment")
    if len(assessment) > ASSESSMENT_MAX_LENGTH:
        raise RuleViolation(
            _("L'analyse est limitée à %(max)s caractères.") % {"max": ASSESSMENT_MAX_LENGTH},
            field="assessment",
        )
    if outlook not in Outlook.values:
        raise RuleViolation(_("Choisissez une perspective."), field="outlook")
    low = _amount(recommended_min, field="recommended_min")
    high = _amount(recommended_max, field="recommended_max")
    if low is not None and high is not None and low > high:
        raise RuleViolation(
            _("Le maximum recommandé doit être supérieur ou égal au minimum."),
            field="recommended_max",
        )
    # The fan-out crosses tenants by design (each message is one recipient's).
    with scopes_disabled():
        previous = _latest_locked(buyer)
        insight = BuyerInsight(
            buyer=buyer,
            author=actor,
            published_at=timezone.now(),
            assessment=assessment,
            outlook=outlook,
            recommended_min=low,
            recommended_max=high,
            supersedes=previous,
        )
        try:
            with transaction.atomic():
                insight.save(force_insert=True)
        except IntegrityError:
            # Two first insights on a buyer at once: the other one won.
            raise Conflict(
                _("Une autre analyse vient d'être publiée sur cet acheteur : réessayez.")
            ) from None
        exposed = exposures_on([buyer.pk], on=business_today()).get(buyer.pk, {})
        InsightExposure.objects.bulk_create(
            [
                InsightExposure(insight=insight, policyholder_id=policyholder_id)
                for policyholder_id in sorted(exposed)
            ]
        )
        event_record(
            action=MonitoringEvent.INSIGHT_PUBLISHED,
            actor=actor,
            obj=insight,
            data={
                "buyer": str(buyer.pk),
                "outlook": outlook,
                "supersedes": str(previous.pk) if previous else None,
                "reached": len(exposed),
            },
        )
    return insight

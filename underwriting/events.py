"""Every kind of change in underwriting: the audit row's type and the key of its notifications
(`underwriting/notifications.py`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.events import EventType


class UnderwritingEvent(EventType):
    BUYER_CREATED = "buyer.created", _("Acheteur créé")
    REQUEST_SUBMITTED = "guarantee_request.submitted", _("Demande déposée")
    REQUEST_WITHDRAWN = "guarantee_request.withdrawn", _("Demande retirée")
    REQUEST_ASSIGNED = "guarantee_request.assigned", _("Demande attribuée")
    COUNTERSIGNATURE_REQUESTED = (
        "guarantee_request.countersignature_requested",
        _("Contre-signature demandée"),
    )
    COUNTERSIGNATURE_DECLINED = (
        "guarantee_request.countersignature_declined",
        _("Contre-signature rejetée"),
    )
    REQUEST_HELD = "guarantee_request.held", _("Demande suspendue (procédure collective)")
    REQUEST_RESUMED = "guarantee_request.resumed", _("Demande reprise")
    REQUEST_DECIDED = "guarantee_request.decided", _("Demande décidée")
    PERIOD_CLOSED = "guarantee.closed", _("Période close")
    PLAN_REPLACED = "guarantee.plan_replaced", _("Période prévue remplacée")
    GRANTED = "guarantee.grant", _("Top-up accordé")
    INCREASED = "guarantee.increase", _("Top-up augmenté")
    REDUCED = "guarantee.reduction", _("Top-up réduit")
    CANCELLED = "guarantee.cancellation", _("Top-up annulé")
    PRIMARY_FOLLOWED = "guarantee.primary_change", _("Suivi du primaire")
    ENDED_BY_LIQUIDATION = "guarantee.liquidation", _("Fin sur liquidation")
    ENDED_WITH_CONTRACT = "guarantee.contract_end", _("Fin avec le contrat")
    EXPIRED = "guarantee.expiry", _("Limite saisonnière échue")
    CONTRACT_TERMINATED = "contract.terminated", _("Contrat résilié")
    CONTRACT_SUSPENDED = "contract.suspended", _("Contrat suspendu")

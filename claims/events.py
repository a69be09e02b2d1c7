"""Every kind of change to a claim: the audit row's type and the key of its notifications
(`claims/notifications.py`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.events import EventType


class ClaimEvent(EventType):
    DECLARED = "claim.declared", _("Sinistre déclaré")
    INVOICES_ADDED = "claim.invoices_added", _("Factures ajoutées")
    DOCUMENT_ADDED = "claim.document_added", _("Pièce ajoutée")
    ASSIGNED = "claim.assigned", _("Sinistre attribué")
    RECOVERY_STARTED = "claim.recovery_started", _("Recouvrement engagé")
    RECOVERED = "claim.recovered", _("Acheteur a payé")
    BUYER_PAYMENT = "claim.buyer_payment", _("Paiement de l'acheteur enregistré")
    PRIMARY_SETTLED = "claim.primary_settled", _("Règlement du primaire enregistré")
    PRIMARY_DECLINED = "claim.primary_declined", _("Refus du primaire enregistré")
    INDEMNITY_COMPUTED = "claim.indemnity_computed", _("Indemnité calculée")
    COUNTERSIGNATURE_REQUESTED = (
        "claim.countersignature_requested",
        _("Contre-signature de l'indemnité demandée"),
    )
    COUNTERSIGNATURE_DECLINED = (
        "claim.countersignature_declined",
        _("Contre-signature de l'indemnité rejetée"),
    )
    APPROVED = "claim.approved", _("Indemnité approuvée")
    PAID = "claim.paid", _("Indemnité payée")
    RECOVERY_RECORDED = "claim.recovery_recorded", _("Recours enregistré")
    DECLINED = "claim.declined", _("Sinistre refusé")
    CLOSED = "claim.closed", _("Sinistre clos")

"""Every kind of change in billing: the audit row's type and the key of its notifications."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.events import EventType


class BillingEvent(EventType):
    INVOICE_ISSUED = "invoice.issued", _("Facture émise")
    CREDIT_NOTE_ISSUED = "credit_note.issued", _("Avoir émis")
    RUN_CREATED = "billing_run.created", _("Facturation lancée")
    RUN_FINISHED = "billing_run.finished", _("Facturation terminée")
    PAYMENT_RECORDED = "payment.recorded", _("Paiement enregistré")
    INVOICE_REMINDED = "invoice.reminded", _("Relance d'impayé envoyée")

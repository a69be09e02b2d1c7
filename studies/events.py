"""Every kind of change in studies: the audit row's type and the key of its notifications."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.events import EventType


class StudyEvent(EventType):
    PROSPECT_CREATED = "study.prospect_created", _("Prospect créé")
    STARTED = "study.started", _("Étude créée")
    LIST_UPLOADED = "study.list_uploaded", _("Liste d'acheteurs déposée")
    ANALYSED = "study.analysed", _("Liste analysée")
    SUBMITTED = "study.submitted", _("Étude soumise à l'assureur")
    LINE_ADJUSTED = "study.line_adjusted", _("Proposition ajustée")
    COUNTERSIGNATURE_REQUESTED = "study.countersignature_requested", _("Contre-signature demandée")
    COUNTERSIGNATURE_DECLINED = "study.countersignature_declined", _("Contre-signature rejetée")
    FINALISED = "study.finalised", _("Rapport d'étude émis")
    ACCEPTED = "study.accepted", _("Étude acceptée")
    DECLINED = "study.declined", _("Étude refusée")
    EXPIRED = "study.expired", _("Étude expirée")
    CONTACT_INVITED = "study.contact_invited", _("Contact invité")

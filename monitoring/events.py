"""Every kind of change in monitoring: the audit row's type and the key of its notifications
(`monitoring/notifications.py`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.events import EventType


class MonitoringEvent(EventType):
    FILE_RECEIVED = "health_file.received", _("Fichier de surveillance reçu")
    FILE_APPLIED = "health_file.applied", _("Fichier de surveillance appliqué")
    FILE_REFUSED = "health_file.refused", _("Fichier de surveillance refusé")
    ALERT_RAISED = "buyer.alert", _("Alerte sur un acheteur")
    NOTICE_WITHDRAWN = "proceedings_notice.withdrawn", _("Annonce de procédure annulée")
    SWEPT = "monitoring.swept", _("Balayage de surveillance")
    INSIGHT_PUBLISHED = "buyer_insight.published", _("Analyse d'expert publiée sur un acheteur")

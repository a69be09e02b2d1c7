"""Every kind of change in conversations: the audit row's type and the key of its
notifications (`conversations/notifications.py`)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.events import EventType


class ConversationEvent(EventType):
    THREAD_STARTED = "thread.started", _("Fil d'échange ouvert")
    MESSAGE_POSTED = "thread.message_posted", _("Message envoyé")
    MEMBER_JOINED = "thread.joined", _("Membre de l'assureur ajouté au fil")
    ARBITER_ASSIGNED = "arbiter.assigned", _("Arbitre dédié attribué")
    STAND_IN_SET = "arbiter.stand_in", _("Suppléant désigné")
    STAND_IN_ENDED = "arbiter.stand_in_ended", _("Suppléance terminée")

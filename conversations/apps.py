from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = _("Échanges avec l'arbitre dédié")

    def ready(self) -> None:
        from conversations import notifications  # noqa: F401 - registers the event notifiers

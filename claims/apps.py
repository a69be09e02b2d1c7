from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = _("Sinistres")

    def ready(self) -> None:
        from claims import notifications  # noqa: F401 - registers the event notifiers

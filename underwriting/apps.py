from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UnderwritingConfig(AppConfig):
    name = "underwriting"
    verbose_name = _("Souscription")

    def ready(self) -> None:
        from underwriting import notifications  # noqa: F401 - registers the event notifiers

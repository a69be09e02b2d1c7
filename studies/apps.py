from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StudiesConfig(AppConfig):
    name = "studies"
    verbose_name = _("Études de portefeuille")

    def ready(self) -> None:
        from studies import notifications  # noqa: F401 - registers the event notifiers

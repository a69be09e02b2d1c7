from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Surveillance des acheteurs")

    def ready(self) -> None:
        from monitoring import notifications  # noqa: F401 - registers the event notifiers

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Facturation")

    def ready(self) -> None:
        from billing import notifications  # noqa: F401 - registers the event notifiers

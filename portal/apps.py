from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Portail")

    def ready(self) -> None:
        from portal import lookups, rls, signals, two_factor  # noqa: F401  (connect receivers)

        rls.install()
        lookups.register()

"""`manage.py monitoring_sweep [--as <username>]`: the daily sweep, now, in this process."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext_lazy as _

from monitoring.management.actor import add_actor_argument, command_actor
from monitoring.services.imports import monitoring_sweep
from portal.tenancy import policyholder_scope_for, tenant_scope

LABELS = {
    "notices": _("annonces appliquées"),
    "duplicates": _("doublons"),
    "replaced": _("remplacées par un rectificatif"),
    "withdrawn": _("annulées"),
    "orphans": _("avis corrigé introuvable"),
    "grades": _("changements de note appliqués"),
    "buyers_moved": _("acheteurs modifiés"),
    "guarantees_ended": _("top-ups terminés par liquidation"),
    "requests_held": _("demandes suspendues"),
    "alerts": _("alertes"),
}


class Command(BaseCommand):
    help = (
        "Runs the buyer-health sweep now: resumes lost file imports, reads the configured "
        "providers and applies whatever was received and not applied yet. Prints the counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_actor_argument(parser)

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        actor = command_actor(username)
        with tenant_scope(policyholder_scope_for(actor)):
            applied = monitoring_sweep()
        for name, count in asdict(applied).items():
            self.stdout.write(f"{LABELS.get(name, name)} : {count}")

"""`manage.py import_health_file <path> --kind bodacc|grades [--as <username>]`: give a file to
the built-in provider and import it in this process, as the back-office page does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings
from django.utils.translation import gettext as _

from monitoring.common import DEFAULT_LIMITS
from monitoring.management.actor import add_actor_argument, command_actor
from monitoring.models import FileKind, FileStatus, HealthFile
from monitoring.services.imports import health_file_import, health_file_receive
from portal.errors import DomainError
from portal.tenancy import policyholder_scope_for, tenant_scope

COUNTERS = ("total", "records", "new_records", "ignored", "unknown_buyers", "alerts")


class Command(BaseCommand):
    help = (
        "Imports a buyer-health file (BODACC notices or grade changes) now, in this process: "
        "prints the counters and each rejected line. Importing the same file again changes "
        "nothing. Exits non-zero when the file is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The file (BODACC JSON lines or CSV ;, grade CSV).")
        parser.add_argument("--kind", required=True, choices=FileKind.values)
        add_actor_argument(parser)

    def handle(self, *args: Any, path: str, kind: str, username: str, **options: Any) -> None:
        actor = command_actor(username)
        source = Path(path)
        try:
            content = source.read_bytes()
        except OSError as error:
            raise CommandError(
                _("Impossible de lire %(path)s : %(error)s") % {"path": path, "error": error}
            ) from error
        # This process imports the file itself: the service must not queue it for a worker too.
        with (
            tenant_scope(policyholder_scope_for(actor)),
            override_settings(MONITORING_ASYNC_BYTES=DEFAULT_LIMITS.max_bytes),
        ):
            try:
                file = health_file_receive(
                    kind=kind, name=source.name, content=content, actor=actor
                )
            except DomainError as error:
                raise CommandError(error.message) from error
            file = health_file_import(file_id=file.pk)
        self._report(file)
        if file.status == FileStatus.REFUSED:
            raise CommandError(file.error)

    def _report(self, file: HealthFile) -> None:
        self.stdout.write(
            _("%(name)s (%(kind)s) : %(status)s — fichier %(id)s")
            % {
                "name": file.name,
                "kind": file.get_kind_display(),
                "status": file.get_status_display(),
                "id": file.pk,
            }
        )
        if file.status == FileStatus.REFUSED:
            return
        for name in COUNTERS:
            label = getattr(HealthFile._meta.get_field(name), "verbose_name", name)
            self.stdout.write(f"  {label} : {getattr(file, name)}")
        self.stdout.write(f"  {_('lignes rejetées')} : {len(file.problems)}")
        for problem in file.problems:
            self.stdout.write(
                self.style.WARNING(
                    _("  ligne %(line)s : %(reason)s")
                    % {"line": problem["line"], "reason": problem["reason"]}
                )
            )

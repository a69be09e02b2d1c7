"""Files given to the built-in provider (a management command, the back-office page, the API):
received and kept, then read, stored and applied. Reading a file twice changes nothing and
sends nothing: what it holds is stored once and applied once."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from importlib import import_module
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from monitoring.common import DEFAULT_LIMITS, FileRefused, check_size
from monitoring.events import MonitoringEvent
from monitoring.models import FileKind, FileStatus, HealthFile, ProviderCursor
from monitoring.providers import BuyerHealthProvider, FileProvider, ProviderBatch
from monitoring.services.apply import Applied, health_apply
from monitoring.services.store import CHUNK, Stored, batch_store
from portal import policy
from portal.errors import RuleViolation
from portal.events import event_record
from portal.kick import kick_after_commit
from portal.models import User

BUILT_IN = "fichiers"
# A file still being read after this long was abandoned (a killed worker): the sweep resumes it.
STALE_AFTER = timedelta(minutes=30)


@transaction.atomic(durable=True)
def health_file_receive(
    *, kind: str, name: str, content: bytes, actor: User, provider: str = BUILT_IN
) -> HealthFile:
    """Keep a file for the built-in provider. A file that cannot be a health file at all (too
    large, empty) is refused here and nothing is kept."""
    policy.require(policy.can_import_health_data(actor))
    if kind not in FileKind.values:
        raise RuleViolation(
            _("Type de fichier inconnu : choisissez « %(bodacc)s » ou « %(grades)s ».")
            % {"bodacc": FileKind.BODACC.label, "grades": FileKind.GRADES.label},
            field="kind",
        )
    if not content:
        raise RuleViolation(_("Le fichier est vide."), field="file")
    check_size(content, DEFAULT_LIMITS)
    file = HealthFile(
        provider=provider,
        kind=kind,
        name=(name or kind)[:200],
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        received_at=timezone.now(),
        received_by=actor,
    )
    file.content.save(f"{file.pk}.{kind}", ContentFile(content), save=False)
    file.save()
    event_record(
        action=MonitoringEvent.FILE_RECEIVED,
        actor=actor,
        obj=file,
        data={"kind": kind, "name": file.name, "size": file.size, "sha256": file.sha256},
    )
    if file.size > settings.MONITORING_ASYNC_BYTES:
        from monitoring.tasks import health_file_import_task

        kick_after_commit(health_file_import_task, file_id=str(file.pk))
    return file


def _progress(file_id: UUID) -> Any:
    def advance(count: int) -> None:
        # Committed at once (outside the store's transaction) so that the page's bar moves.
        HealthFile.objects.filter(pk=file_id).update(stored=F("stored") + count)

    return advance


def _store_in_chunks(batch: ProviderBatch, *, file: HealthFile) -> Stored:
    stored = Stored()
    advance = _progress(file.pk)
    at = timezone.now()
    for start in range(0, len(batch.notices), CHUNK):
        with transaction.atomic():
            part = ProviderBatch(notices=batch.notices[start : start + CHUNK])
            stored.add(batch_store(part, provider=file.provider, file=file, at=at))
        advance(len(part.notices))
    for start in range(0, len(batch.grade_changes), CHUNK):
        with transaction.atomic():
            part = ProviderBatch(grade_changes=batch.grade_changes[start : start + CHUNK])
            stored.add(batch_store(part, provider=file.provider, file=file, at=at))
        advance(len(part.grade_changes))
    return stored


def health_file_import(*, file_id: UUID | str) -> HealthFile:
    """Read a received file, keep its records (once) and apply them. Safe to run again: a
    finished file is left as it is, an interrupted one is resumed."""
    with transaction.atomic(durable=True):
        file = HealthFile.objects.select_for_update().get(pk=file_id)
        if file.status in (FileStatus.APPLIED, FileStatus.REFUSED):
            return file
        file.status = FileStatus.IMPORTING
        file.stored = 0
        file.save(update_fields=["status", "stored"])
    with file.content.open("rb") as handle:
        content = handle.read()
    reader = FileProvider(name=file.provider)
    try:
        if file.kind == FileKind.BODACC:
            report = reader.add_bodacc(file.name, content, received_at=file.received_at)
        else:
            report = reader.add_grades(file.name, content, received_at=file.received_at)
    except FileRefused as refused:
        return _refused(file, refused)
    file.total = report.records
    file.ignored = report.ignored
    file.problems = [{"line": p.line, "reason": p.reason} for p in report.problems]
    file.save(update_fields=["total", "ignored", "problems"])
    stored = _store_in_chunks(reader.fetch(), file=file)
    applied = health_apply()
    with transaction.atomic(durable=True):
        file.records = stored.records
        file.unknown_buyers = stored.unknown_buyers
        file.new_records = stored.new
        file.alerts = applied.alerts
        file.stored = file.total
        file.status = FileStatus.APPLIED
        file.finished_at = timezone.now()
        file.save()
        event_record(
            action=MonitoringEvent.FILE_APPLIED,
            actor=None,
            obj=file,
            data={
                "records": stored.records,
                "new": stored.new,
                "unknown_buyers": stored.unknown_buyers,
                "problems": len(file.problems),
                "alerts": applied.alerts,
            },
        )
    return file


def _refused(file: HealthFile, refused: FileRefused) -> HealthFile:
    with transaction.atomic(durable=True):
        file.status = FileStatus.REFUSED
        file.error = refused.message
        file.finished_at = timezone.now()
        file.save(update_fields=["status", "error", "finished_at"])
        event_record(
            action=MonitoringEvent.FILE_REFUSED,
            actor=None,
            obj=file,
            reason=refused.message,
            data={"code": refused.code},
        )
    return file


def providers_configured() -> list[BuyerHealthProvider]:
    """The extra providers of `MONITORING_PROVIDERS` (dotted paths of provider classes)."""
    providers: list[BuyerHealthProvider] = []
    for path in settings.MONITORING_PROVIDERS:
        module, _dot, name = path.rpartition(".")
        provider = getattr(import_module(module), name)()
        if not isinstance(provider, BuyerHealthProvider):
            raise TypeError(f"{path} is not a BuyerHealthProvider")
        providers.append(provider)
    return providers


def provider_fetch(provider: BuyerHealthProvider) -> Stored:
    """Keep what a provider received since the last sweep read it."""
    with transaction.atomic(durable=True):
        cursor, _created = ProviderCursor.objects.select_for_update().get_or_create(
            provider=provider.name
        )
        started = timezone.now()
        batch = provider.fetch(since=cursor.fetched_until)
        stored = batch_store(batch, provider=provider.name, file=None, at=started)
        cursor.fetched_until = started
        cursor.swept_at = started
        cursor.save()
    return stored


def monitoring_sweep(*, providers: Sequence[BuyerHealthProvider] | None = None) -> Applied:
    """The daily sweep: files whose import was lost are resumed, every provider is read, and
    whatever was received and not applied yet is applied."""
    stale = timezone.now() - STALE_AFTER
    for file_id in HealthFile.objects.filter(
        Q(status=FileStatus.RECEIVED) | Q(status=FileStatus.IMPORTING, received_at__lt=stale)
    ).values_list("pk", flat=True):
        health_file_import(file_id=file_id)
    for provider in providers if providers is not None else providers_configured():
        provider_fetch(provider)
    return health_apply()

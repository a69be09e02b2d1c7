"""Starting a study and its buyer list: upload (a corrected file replaces the previous one while
the study is a draft), analysis (a verdict and a proposal per line), submission to the insurer.

A file that cannot be read stores nothing. A list above `STUDY_ASYNC_LINES` lines is analysed by
a worker (`studies.tasks.study_analyse_task`), which commits its progress group by group.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.kick import kick_after_commit
from portal.models import User
from portal.tenancy import scope_including
from studies import lines_sql
from studies.events import StudyEvent
from studies.models import OPEN_STATUSES, LineVerdict, Study, StudyFile, StudyLine, StudyStatus
from studies.parsing import ParsedFile, read_buyer_list
from studies.proposals import Band, grid_bands, propose
from studies.services.prospects import ProspectInput, prospect_create
from studies.services.reviews import lock_study
from studies.verdicts import LineError, line_verdicts
from studies.verdicts import LineVerdict as Verdict
from underwriting.models import Buyer, Contract, ContractStatus, ProceedingsStatus
from underwriting.rules import top_up_limits

ANALYSIS_GROUP = 1000  # lines written (and progress committed) at a time by a worker
# A worker commits its first group within seconds; an analysis not started after this is lost.
STALLED_AFTER = timedelta(minutes=5)


def _check_contract(contract: Contract) -> None:
    if contract.status not in (ContractStatus.DRAFT, ContractStatus.ACTIVE):
        raise Conflict(
            _("Ce contrat n'est pas en vigueur : pas d'étude possible."), field="contract"
        )
    if Study.objects.filter(contract=contract, status__in=OPEN_STATUSES).exists():
        raise Conflict(_("Une étude est déjà en cours sur ce contrat."), field="contract")


def _study_create(*, contract: Contract, actor: User, prospect: ProspectInput | None) -> Study:
    study = Study.objects.create(
        policyholder=contract.policyholder,
        contract=contract,
        broker=actor.organisation if policy.is_broker_user(actor) else None,
        is_prospect=prospect is not None,
        contact_name=prospect.contact_name.strip() if prospect else "",
        contact_email=prospect.contact_email.strip() if prospect else "",
        created_by=actor,
    )
    event_record(
        action=StudyEvent.STARTED,
        actor=actor,
        obj=study,
        policyholder=contract.policyholder,
        data={"contract": contract.number, "prospect": prospect is not None},
    )
    return study


@transaction.atomic(durable=True)
def study_start(*, contract: Contract, actor: User) -> Study:
    """A study for a policyholder the actor may act for (its own, or a mandated broker's)."""
    policy.require(policy.can_work_on_studies(actor))
    _check_contract(contract)
    return _study_create(contract=contract, actor=actor, prospect=None)


@transaction.atomic(durable=True)
def study_start_for_prospect(*, data: ProspectInput, actor: User) -> Study:
    """A broker brings a prospect: its organisation, draft contract and the broker's mandate
    are created with the study (the new policyholder joins the broker's scope at once)."""
    policy.require(policy.is_broker_user(actor))
    contract = prospect_create(data=data, actor=actor)
    with scope_including(contract.policyholder_id):
        return _study_create(contract=contract, actor=actor, prospect=data)


def _parse(content: bytes, filename: str) -> ParsedFile:
    parsed = read_buyer_list(content=content, filename=filename)
    if parsed.has_no_buyer_line:
        raise RuleViolation(
            _("Le fichier n'a aucune ligne d'acheteur sous son en-tête."), field="file"
        )
    return parsed


@transaction.atomic(durable=True)
def study_upload(*, study_id: UUID | str, content: bytes, filename: str, actor: User) -> Study:
    """Read the buyer list and give each line its verdict, or hand a large list to a worker.
    An unreadable file raises and stores nothing."""
    policy.require(policy.can_work_on_studies(actor))
    study = lock_study(study_id)
    if not study.is_editable:
        raise Conflict(_("L'étude n'est plus un brouillon : sa liste ne peut plus être remplacée."))
    parsed = _parse(content, filename)
    study.file_name = filename[:200]
    study.file_kind = parsed.kind.value
    study.file_sha256 = hashlib.sha256(content).hexdigest()
    study.uploaded_at = timezone.now()
    study.lines_total = len(parsed.lines)
    study.lines_analysed = study.lines_accepted = study.lines_refused = 0
    StudyLine.objects.filter(study=study).delete()
    StudyFile.objects.filter(study=study).delete()
    event_record(
        action=StudyEvent.LIST_UPLOADED,
        actor=actor,
        obj=study,
        policyholder=study.policyholder,
        data={"file": study.file_name, "lines": study.lines_total, "kind": study.file_kind},
    )
    if len(parsed.lines) > settings.STUDY_ASYNC_LINES:
        study.status = StudyStatus.ANALYSING
        _save_file_fields(study)
        StudyFile.objects.create(
            policyholder=study.policyholder, study=study, content=content, uploaded_by=actor
        )
        from studies.tasks import study_analyse_task

        kick_after_commit(study_analyse_task, study_id=str(study.pk))
        return study
    _save_file_fields(study)
    _analyse(study=study, parsed=parsed, actor=actor, commit_groups=False)
    return study


def _save_file_fields(study: Study) -> None:
    study.save(
        update_fields=[
            "status",
            "file_name",
            "file_kind",
            "file_sha256",
            "uploaded_at",
            "lines_total",
            "lines_analysed",
            "lines_accepted",
            "lines_refused",
        ]
    )


def study_analyse(*, study_id: UUID | str) -> Study | None:
    """The worker's part: analyse a stored list group by group, committing progress, then
    discard the bytes. Re-running it after a crash starts the analysis over."""
    with transaction.atomic():
        study = lock_study(study_id)
        stored = StudyFile.objects.filter(study=study).select_related("uploaded_by").first()
        if study.status != StudyStatus.ANALYSING or stored is None:
            return None  # analysed already, or replaced meanwhile
        StudyLine.objects.filter(study=study).delete()
        Study.objects.filter(pk=study.pk).update(
            lines_analysed=0, lines_accepted=0, lines_refused=0
        )
        content, actor = bytes(stored.content), stored.uploaded_by
    try:
        parsed = _parse(content, study.file_name)
    except RuleViolation:
        # It was read at upload; if it no longer is (limits changed meanwhile), the study goes
        # back to a draft without a list rather than waiting for ever.
        with transaction.atomic():
            StudyFile.objects.filter(study_id=study_id).delete()
            Study.objects.filter(pk=study_id).update(
                status=StudyStatus.DRAFT, uploaded_at=None, file_name="", lines_total=0
            )
        return None
    _analyse(study=study, parsed=parsed, actor=actor, commit_groups=True)
    with transaction.atomic():
        study = lock_study(study_id)
        StudyFile.objects.filter(study=study).delete()
        study.status = StudyStatus.DRAFT
        study.save(update_fields=["status"])
    return study


def _analyse(*, study: Study, parsed: ParsedFile, actor: User, commit_groups: bool) -> None:
    contract = study.contract
    verdicts = _verdicts(parsed=parsed, contract=contract)
    bands = grid_bands()
    added = 0
    for start in range(0, len(verdicts), ANALYSIS_GROUP):
        group = verdicts[start : start + ANALYSIS_GROUP]
        if commit_groups:
            with transaction.atomic():
                added += _write_group(study=study, group=group, bands=bands)
        else:
            added += _write_group(study=study, group=group, bands=bands)
    study.refresh_from_db(fields=["lines_accepted", "lines_refused", "lines_analysed"])
    # One event for the whole list: the buyers it added to the registry are counted here rather
    # than recorded one by one (a list of 20 000 new buyers would write 20 000 audit rows).
    event_record(
        action=StudyEvent.ANALYSED,
        actor=actor,
        obj=study,
        policyholder=study.policyholder,
        data={
            "accepted": study.lines_accepted,
            "refused": study.lines_refused,
            "buyers_added_to_registry": added,
        },
    )


def _verdicts(*, parsed: ParsedFile, contract: Contract) -> list[Verdict]:
    """Every line's verdict. A buyer the registry already names may come without its name, so
    the registry is asked which of the file's identifiers it knows, then the lines are judged."""
    first = line_verdicts(
        lines=parsed.lines, top_up_multiple=contract.top_up_multiple, headers=parsed.headers
    )
    keys = {verdict.buyer_key for verdict in first if verdict.buyer_key}
    known = set(Buyer.objects.filter(siren__in=keys).values_list("siren", flat=True)) | set(
        Buyer.objects.filter(vat_number__in=keys).values_list("vat_number", flat=True)
    )
    if not known:
        return first
    return line_verdicts(
        lines=parsed.lines,
        top_up_multiple=contract.top_up_multiple,
        headers=parsed.headers,
        known_buyers={key for key in known if key},
    )


def _error(error: LineError) -> dict[str, object]:
    """A line error as stored: enough to show it and to rebuild the verdicts file."""
    return {
        "column": error.header,
        "column_key": str(error.column),
        "value": error.value,
        "problem": str(error.problem),
        "reason": error.reason,
        "fix": error.fix,
        "message": error.message,
    }


def _buyers_for(group: Sequence[Verdict]) -> tuple[dict[str, Buyer], set[str]]:
    """The registry's buyer for each accepted identifier, added set-based when unknown.
    Returns them by key (SIREN or VAT number) and the keys added now (their grade is unknown)."""
    keys = {verdict.buyer_key for verdict in group if verdict.accepted and verdict.buyer_key}
    found = _registry(keys)
    new: dict[str, tuple[str | None, str | None, str, str]] = {}
    for verdict in group:
        key, company = verdict.buyer_key, verdict.company
        if not verdict.accepted or key is None or company is None or key in found:
            continue
        new.setdefault(
            key,
            (
                company.siren,
                None if company.siren else company.vat_number,
                company.country,
                (verdict.line.name.strip() or key)[:200],
            ),
        )
    if new:
        columns = list(zip(*new.values(), strict=True))
        with connection.cursor() as cursor:
            cursor.execute(
                lines_sql.INSERT_BUYERS,
                {
                    "siren": list(columns[0]),
                    "vat_number": list(columns[1]),
                    "country": list(columns[2]),
                    "name": list(columns[3]),
                    "grade": Buyer._meta.get_field("grade").get_default(),
                },
            )
        found.update(_registry(set(new)))
    return found, set(new)


def _registry(keys: set[str]) -> dict[str, Buyer]:
    sirens = {key for key in keys if key.isdigit()}
    found = {b.siren or "": b for b in Buyer.objects.filter(siren__in=sirens)}
    found.update(
        {b.vat_number or "": b for b in Buyer.objects.filter(vat_number__in=keys - sirens)}
    )
    return found


def _write_group(*, study: Study, group: Sequence[Verdict], bands: Sequence[Band]) -> int:
    """Write a group's lines; returns how many buyers it added to the registry."""
    contract = study.contract
    buyers, added = _buyers_for(group)
    columns: dict[str, list[Any]] = {name: [] for name in _LINE_COLUMNS}
    accepted = refused = 0
    for verdict in group:
        source = verdict.line
        key = verdict.buyer_key
        buyer = buyers.get(key) if verdict.accepted and key else None
        row: dict[str, Any] = {
            "line_number": source.number,
            "identifier": source.identifier[:40],
            "name": source.name[:200],
            "exposure": source.exposure,
            "primary_amount": source.primary,
            "requested_top_up": source.top_up,
            "verdict": LineVerdict.REFUSED.value,
            "errors": json.dumps([_error(error) for error in verdict.errors], ensure_ascii=False),
            "buyer_id": None,
            "grade": None,
            "max_top_up": None,
            "proposed_top_up": None,
            "proposal_reason": "",
        }
        if buyer is not None and source.exposure is not None and source.primary is not None:
            accepted += 1
            limits = top_up_limits(
                exposure=source.exposure,
                primary=source.primary,
                multiple=contract.top_up_multiple,
                contract_number=contract.number,
                buyer_in_liquidation=buyer.proceedings == ProceedingsStatus.LIQUIDATION,
            )
            known = key not in added
            proposal = propose(
                grade=buyer.grade if known else None,
                proceedings=buyer.proceedings,
                max_allowed=limits.max_top_up,
                requested=source.top_up,
                bands=bands,
            )
            row.update(
                verdict=LineVerdict.ACCEPTED.value,
                buyer_id=buyer.pk,
                grade=buyer.grade if known else None,
                max_top_up=limits.max_top_up,
                proposed_top_up=proposal.amount,
                proposal_reason=proposal.reason[:300],
            )
        else:
            refused += 1
        for name, value in row.items():
            columns[name].append(value)
    with connection.cursor() as cursor:
        cursor.execute(
            lines_sql.INSERT_LINES,
            {"policyholder": study.policyholder_id, "study": study.pk, **columns},
        )
    Study.objects.filter(pk=study.pk).update(
        lines_analysed=F("lines_analysed") + len(group),
        lines_accepted=F("lines_accepted") + accepted,
        lines_refused=F("lines_refused") + refused,
    )
    return len(added)


_LINE_COLUMNS = (
    "line_number",
    "identifier",
    "name",
    "exposure",
    "primary_amount",
    "requested_top_up",
    "verdict",
    "errors",
    "buyer_id",
    "grade",
    "max_top_up",
    "proposed_top_up",
    "proposal_reason",
)


@transaction.atomic(durable=True)
def study_submit(*, study_id: UUID | str, actor: User) -> Study:
    """The broker or the wholesaler sends the analysed list to the insurer's experts."""
    policy.require(policy.can_work_on_studies(actor))
    study = lock_study(study_id)
    if study.status != StudyStatus.DRAFT or not study.uploaded_at:
        raise Conflict(_("Déposez d'abord une liste d'acheteurs analysée."), field="file")
    if study.lines_accepted == 0:
        raise RuleViolation(
            _("Aucune ligne n'est acceptée : corrigez le fichier et déposez-le de nouveau."),
            field="file",
        )
    study.status = StudyStatus.SUBMITTED
    study.submitted_at = timezone.now()
    study.save(update_fields=["status", "submitted_at"])
    event_record(
        action=StudyEvent.SUBMITTED,
        actor=actor,
        obj=study,
        policyholder=study.policyholder,
        data={"accepted": study.lines_accepted, "refused": study.lines_refused},
    )
    return study


def studies_stalled(*, older_than: timedelta = STALLED_AFTER) -> list[UUID]:
    """Large lists whose analysis never started (the after-commit kick was lost: a broker
    outage, a killed process): stored, nothing analysed, uploaded a while ago."""
    cutoff = timezone.now() - older_than
    return list(
        Study.objects.filter(
            status=StudyStatus.ANALYSING,
            lines_analysed=0,
            uploaded_at__lte=cutoff,
            pending_file__isnull=False,
        ).values_list("pk", flat=True)
    )

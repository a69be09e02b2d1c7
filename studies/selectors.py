"""Reads for studies, within the active scope: the lists, the table of lines, the report."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db.models import QuerySet

from billing.premium import ZERO, Totals, invoice_totals, round_cents
from studies.models import LineVerdict, Study, StudyLine, StudyStatus
from underwriting.models import Contract
from underwriting.rules import money


def studies_visible() -> QuerySet[Study]:
    return Study.objects.select_related(
        "contract", "policyholder", "broker", "created_by", "finalised_by", "countersigned_by"
    ).order_by("-created_at")


def studies_to_review() -> QuerySet[Study]:
    """The insurer's queue: submitted studies and those waiting for a countersignature."""
    return studies_visible().filter(
        status__in=[StudyStatus.SUBMITTED, StudyStatus.AWAITING_COUNTERSIGNATURE]
    )


SORTS = {
    "line": ("line_number",),
    "name": ("name", "line_number"),
    "grade": ("grade", "line_number"),
    "-grade": ("-grade", "line_number"),
    "exposure": ("exposure", "line_number"),
    "-exposure": ("-exposure", "line_number"),
    "proposed": ("proposed_top_up", "line_number"),
    "-proposed": ("-proposed_top_up", "line_number"),
}


@dataclass(frozen=True)
class LineFilters:
    verdict: str = ""
    grade_min: int | None = None
    grade_max: int | None = None
    sort: str = "line"


def study_lines(*, study: Study, filters: LineFilters = LineFilters()) -> QuerySet[StudyLine]:
    lines = StudyLine.objects.filter(study=study).select_related("buyer", "adjusted_by")
    if filters.verdict:
        lines = lines.filter(verdict=filters.verdict)
    if filters.grade_min is not None:
        lines = lines.filter(grade__gte=filters.grade_min)
    if filters.grade_max is not None:
        lines = lines.filter(grade__lte=filters.grade_max)
    return lines.order_by(*SORTS.get(filters.sort, SORTS["line"]))


def study_line(*, study_id: UUID | str, line_id: UUID | str) -> StudyLine:
    return StudyLine.objects.select_related("study").get(study_id=study_id, pk=line_id)


@dataclass(frozen=True)
class ReportLine:
    line: StudyLine
    top_up: Decimal
    cover: Decimal
    premium: Decimal


@dataclass(frozen=True)
class Report:
    study: Study
    contract: Contract
    lines: list[ReportLine]
    exposure: Decimal
    primary: Decimal
    top_up: Decimal
    cover: Decimal
    refused: int
    premium: Totals


def study_report(*, study: Study) -> Report:
    """Per buyer the exposure, primary, proposed top-up and resulting cover; the totals; and
    the estimated monthly premium by the billing rules on the contract's basis (a full month
    in force: the peak and the prorata bases give the same line premium, round(T × rate))."""
    contract = study.contract
    lines: list[ReportLine] = []
    for line in study_lines(study=study, filters=LineFilters(verdict=LineVerdict.ACCEPTED)):
        top_up = line.final_top_up
        primary = line.primary_amount or ZERO
        premium = round_cents(top_up * contract.monthly_rate) if top_up > 0 else ZERO
        lines.append(
            ReportLine(line=line, top_up=top_up, cover=money(primary + top_up), premium=premium)
        )
    premiums = [line.premium for line in lines if line.top_up > 0]
    return Report(
        study=study,
        contract=contract,
        lines=lines,
        exposure=money(sum((r.line.exposure or ZERO for r in lines), ZERO)),
        primary=money(sum((r.line.primary_amount or ZERO for r in lines), ZERO)),
        top_up=money(sum((r.top_up for r in lines), ZERO)),
        cover=money(sum((r.cover for r in lines), ZERO)),
        refused=study.lines_refused,
        premium=invoice_totals(
            premiums=premiums or [ZERO],
            minimum_premium=contract.minimum_premium,
            tax_rate=contract.tax_rate,
        ),
    )


def study_progress(study: Study) -> dict[str, object]:
    """For the progress bar: how far the worker is."""
    total = study.lines_total or 1
    return {
        "analysed": study.lines_analysed,
        "total": study.lines_total,
        "percent": min(100, int(Decimal(study.lines_analysed) * 100 / total)),
        "done": study.status != StudyStatus.ANALYSING,
    }

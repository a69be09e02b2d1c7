"""The study report as a page context and as an A4 PDF.

The PDF is deterministic: its dates come from the study's `finalised_at` (`dcterms.created` /
`dcterms.modified` metas), no identifier is generated, and the fonts are the system's DejaVu."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import HTML

from billing.services.invoices import Issuer, issuer_details
from portal.errors import DomainError
from portal.money import percent
from studies.selectors import Report


@dataclass(frozen=True)
class ContractTerms:
    """The contract's rates as the report prints them: percentages, never raw decimals."""

    monthly_rate_percent: Decimal
    insured_percent: Decimal
    tax_percent: Decimal | None


def report_context(report: Report) -> dict[str, Any]:
    contract = report.contract
    issuer: Issuer | None
    try:
        issuer = issuer_details()
    except DomainError:
        issuer = None  # no insurer recorded yet: the report still reads, without its header
    return {
        "report": report,
        "study": report.study,
        "contract": contract,
        "policyholder": report.study.policyholder,
        "issuer": issuer,
        "terms": ContractTerms(
            monthly_rate_percent=percent(contract.monthly_rate),
            insured_percent=percent(contract.insured_percentage),
            tax_percent=percent(contract.tax_rate) if contract.tax_rate is not None else None,
        ),
    }


def study_report_pdf(report: Report) -> bytes:
    study = report.study
    assert study.finalised_at is not None, "only a finalised study has a report"
    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string(
            "studies/report_pdf.html",
            {
                **report_context(report),
                "created": study.finalised_at.replace(microsecond=0).isoformat(),
            },
        )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()

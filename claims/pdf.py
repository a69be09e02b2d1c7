"""A claim's indemnity statement as an A4 PDF: the insurer and the policy, the claim, its
invoices with the limits in force at each delivery, and the computation line by line (or the
notice that it is not computed yet).

The output is deterministic: the PDF dates come from the claim (its computation time, else its
declaration: `dcterms.created` / `dcterms.modified` metas), no identifier is generated, and the
fonts are the system's DejaVu."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import HTML

from billing.services.invoices import Issuer, issuer_details
from claims.selectors import ClaimDetail
from portal.errors import DomainError


def statement_context(data: ClaimDetail) -> dict[str, Any]:
    claim = data.claim
    issuer: Issuer | None
    try:
        issuer = issuer_details()
    except DomainError:
        issuer = None  # no insurer recorded yet: the statement still reads, without its header
    dated = claim.computed_at or claim.declared_at
    return {
        "claim": claim,
        "data": data,
        "contract": claim.contract,
        "policyholder": claim.policyholder,
        "issuer": issuer,
        "created": dated.replace(microsecond=0).isoformat(),
    }


def claim_statement_html(data: ClaimDetail) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string("claims/statement_pdf.html", statement_context(data))


# fontTools stamps each embedded font subset with the time it was made unless the
# reproducible-builds variable fixes it: without it two renderings a second apart differ.


def claim_statement_pdf(data: ClaimDetail) -> bytes:
    html = claim_statement_html(data)
    return bytes(HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf())

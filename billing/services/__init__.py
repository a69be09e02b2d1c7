"""Writes for billing, one module per use case: `invoices` (issuing, numbering, PDFs),
`credit_notes`, `runs` (month-end billing). Same convention as every app: see the README."""

from billing.services.credit_notes import credit_note_issue, credited_so_far
from billing.services.invoices import (
    Issuer,
    billable_month,
    invoice_issue,
    invoice_pdf_store,
    issuer_details,
)
from billing.services.runs import (
    COMMIT_EVERY,
    RUN_BATCH,
    billing_run_create,
    billing_run_execute,
    billing_run_start,
)

__all__ = [
    "COMMIT_EVERY",
    "RUN_BATCH",
    "Issuer",
    "billable_month",
    "billing_run_create",
    "billing_run_execute",
    "billing_run_start",
    "credit_note_issue",
    "credited_so_far",
    "invoice_issue",
    "invoice_pdf_store",
    "issuer_details",
]

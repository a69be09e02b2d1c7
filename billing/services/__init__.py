"""Writes for billing, one module per use case: `invoices` (issuing, numbering, PDFs),
`credit_notes`, `runs` (month-end billing). Same convention as every app: see the README."""

from billing.services.credit_notes import credit_note_amounts, credit_note_issue
from billing.services.invoices import invoice_issue, invoice_pdf_store
from billing.services.runs import (
    COMMIT_EVERY,
    billing_run_create,
    billing_run_execute,
    billing_run_start,
)

__all__ = [
    "COMMIT_EVERY",
    "billing_run_create",
    "billing_run_execute",
    "billing_run_start",
    "credit_note_amounts",
    "credit_note_issue",
    "invoice_issue",
    "invoice_pdf_store",
]

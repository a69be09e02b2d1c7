"""Writes for billing, one module per use case: `invoices` (issuing, numbering, PDFs),
`credit_notes`, `runs` (month-end billing, resumed by a supervisor), `pdfs` (the sweep of
renders whose kick was lost). Same convention as every app: see the README."""

from billing.services.credit_notes import credit_note_amounts, credit_note_issue
from billing.services.invoices import invoice_issue, invoice_pdf_store
from billing.services.pdfs import invoice_pdfs_sweep, invoices_without_pdf
from billing.services.runs import (
    COMMIT_EVERY,
    billing_run_create,
    billing_run_execute,
    billing_run_start,
    billing_runs_stalled,
    billing_runs_supervise,
)

__all__ = [
    "COMMIT_EVERY",
    "billing_run_create",
    "billing_run_execute",
    "billing_run_start",
    "billing_runs_stalled",
    "billing_runs_supervise",
    "credit_note_amounts",
    "credit_note_issue",
    "invoice_issue",
    "invoice_pdf_store",
    "invoice_pdfs_sweep",
    "invoices_without_pdf",
]

"""Writes for billing, one module per use case: `invoices` (issuing, numbering, PDFs),
`credit_notes`, `payments` (payments and bank statements), `reminders` (of unpaid invoices),
`runs` (month-end billing, resumed by a supervisor), `pdfs` (the sweep of renders whose kick
was lost). Same convention as every app: see the README."""

from billing.services.credit_notes import credit_note_amounts, credit_note_issue
from billing.services.invoices import invoice_issue
from billing.services.payments import (
    bank_statement_import,
    bank_statement_verdicts,
    payment_record,
)
from billing.services.pdfs import (
    PDF_BATCH,
    invoice_pdf_store,
    invoice_pdfs_fan_out,
    invoice_pdfs_store,
    invoice_pdfs_sweep,
    invoices_without_pdf,
)
from billing.services.reminders import invoice_reminders_send
from billing.services.runs import (
    COMMIT_EVERY,
    RunBusy,
    billing_run_create,
    billing_run_dispatch,
    billing_run_execute,
    billing_run_group_execute,
    billing_run_start,
    billing_runs_stalled,
    billing_runs_supervise,
)

__all__ = [
    "bank_statement_import",
    "bank_statement_verdicts",
    "invoice_reminders_send",
    "payment_record",
    "COMMIT_EVERY",
    "RunBusy",
    "billing_run_create",
    "billing_run_dispatch",
    "billing_run_execute",
    "billing_run_group_execute",
    "billing_run_start",
    "billing_runs_stalled",
    "billing_runs_supervise",
    "credit_note_amounts",
    "credit_note_issue",
    "invoice_issue",
    "invoice_pdf_store",
    "PDF_BATCH",
    "invoice_pdfs_fan_out",
    "invoice_pdfs_store",
    "invoice_pdfs_sweep",
    "invoices_without_pdf",
]

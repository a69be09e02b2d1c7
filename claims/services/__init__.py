"""Writes for claims, one module per use case: `declarations` (the wholesaler declares unpaid
invoices, typed or from a CSV), `documents` (supporting documents, checked by content),
`handling` (the claims handler: recovery, the primary's settlement, the indemnity, its
approval, payment and recoveries); `coverage` holds the reads they share (the limits in force
at a delivery date, the waiting period)."""

from claims.services.declarations import (
    UploadResult,
    claim_declare,
    claim_declare_once,
    claim_invoices_add,
    claim_invoices_upload,
)
from claims.services.documents import claim_document_add
from claims.services.handling import (
    claim_assign,
    claim_buyer_payment_record,
    claim_close,
    claim_computation,
    claim_decline,
    claim_indemnity_approve,
    claim_indemnity_compute,
    claim_indemnity_countersign,
    claim_indemnity_pay,
    claim_primary_decline,
    claim_primary_settle,
    claim_recovered,
    claim_recovery_record,
    claim_recovery_start,
    claim_waiting_period,
)

__all__ = [
    "UploadResult",
    "claim_assign",
    "claim_buyer_payment_record",
    "claim_close",
    "claim_computation",
    "claim_declare",
    "claim_declare_once",
    "claim_decline",
    "claim_document_add",
    "claim_indemnity_approve",
    "claim_indemnity_compute",
    "claim_indemnity_countersign",
    "claim_indemnity_pay",
    "claim_invoices_add",
    "claim_invoices_upload",
    "claim_primary_decline",
    "claim_primary_settle",
    "claim_recovered",
    "claim_recovery_record",
    "claim_recovery_start",
    "claim_waiting_period",
]

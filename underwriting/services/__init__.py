"""Writes for underwriting, one module per use case: `buyers`, `requests`, `decisions`,
`guarantees` (and the period operations they share, `periods`), `contracts`.

Every action here is the one way its change happens: pages, the API, tasks and commands call
it. An entry-point action owns its transaction (`atomic(durable=True)`), checks the policy,
writes the change and records its event (`portal.events.event_record`), which writes the audit
row and the pending notifications in the same transaction.
"""

from underwriting.services.buyers import buyer_find_or_create
from underwriting.services.contracts import contract_suspend, contract_terminate
from underwriting.services.decisions import (
    DecideResult,
    guarantee_request_decide,
    pending_decision_countersign,
)
from underwriting.services.guarantees import (
    guarantee_cancel,
    guarantee_expiry_record,
    guarantee_primary_report,
    guarantee_reduce,
    guarantees_end_on_liquidation,
)
from underwriting.services.requests import (
    REQUEST_SLA,
    LimitsAnswer,
    RequestInput,
    guarantee_request_assign,
    guarantee_request_resume,
    guarantee_request_submit,
    guarantee_request_withdraw,
    request_limits,
)

__all__ = [
    "REQUEST_SLA",
    "DecideResult",
    "LimitsAnswer",
    "RequestInput",
    "buyer_find_or_create",
    "contract_suspend",
    "contract_terminate",
    "guarantee_cancel",
    "guarantee_expiry_record",
    "guarantee_primary_report",
    "guarantee_reduce",
    "guarantee_request_assign",
    "guarantee_request_decide",
    "guarantee_request_resume",
    "guarantee_request_submit",
    "guarantee_request_withdraw",
    "guarantees_end_on_liquidation",
    "pending_decision_countersign",
    "request_limits",
]

"""Writes for studies, one module per use case: `prospects`, `lists` (start, upload, analysis,
submission), `reviews` (adjustments, finalisation, countersignature), `answers` (acceptance,
refusal, expiry). Same convention as every app: see the README."""

from studies.services.answers import (
    studies_expire,
    study_accept,
    study_accept_invitation,
    study_decline,
    study_decline_invitation,
    study_invitation,
)
from studies.services.lists import (
    studies_stalled,
    study_analyse,
    study_start,
    study_start_for_prospect,
    study_submit,
    study_upload,
)
from studies.services.prospects import ProspectInput
from studies.services.reviews import study_countersign, study_finalise, study_line_adjust

__all__ = [
    "ProspectInput",
    "studies_expire",
    "studies_stalled",
    "study_accept",
    "study_accept_invitation",
    "study_analyse",
    "study_countersign",
    "study_decline",
    "study_decline_invitation",
    "study_finalise",
    "study_invitation",
    "study_line_adjust",
    "study_start",
    "study_start_for_prospect",
    "study_submit",
    "study_upload",
]

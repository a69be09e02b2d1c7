"""Studies tasks: they take ids, enter the scope they need and call one service."""

from __future__ import annotations

from celery import shared_task
from django_scopes import scopes_disabled

from portal.tenancy import tenant_scope
from studies import services
from studies.models import Study
from unlockplus.celery import RETRY_TRANSIENT


@shared_task(**RETRY_TRANSIENT)
def study_analyse_task(*, study_id: str) -> str:
    """Analyse a large buyer list (the upload stored it); a redelivered task starts it over."""
    with scopes_disabled():  # the study's tenant is not known before it is read
        policyholder_id = (
            Study.objects.filter(pk=study_id).values_list("policyholder_id", flat=True).first()
        )
    if policyholder_id is None:
        return "gone"
    with tenant_scope([policyholder_id]):
        study = services.study_analyse(study_id=study_id)
    return "done" if study is not None else "skipped"


@shared_task(**RETRY_TRANSIENT)
def studies_expire_task() -> int:
    """Beat, nightly: reports not answered within their validity expire."""
    with scopes_disabled():  # every policyholder's studies: the named bypass
        return services.studies_expire()


@shared_task
def studies_analyse_stalled_task() -> int:
    """Beat, every few minutes: restart the analyses whose kick was lost (a redelivered
    analysis starts over: it is idempotent)."""
    with scopes_disabled():  # every policyholder's studies: the named bypass
        stalled = services.studies_stalled()
    for study_id in stalled:
        study_analyse_task.delay(study_id=str(study_id))
    return len(stalled)

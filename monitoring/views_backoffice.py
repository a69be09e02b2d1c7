"""The arbiters' side of monitoring: the monitoring page, imports and their progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from monitoring import selectors
from monitoring.forms import DEFAULT_PERIOD, HealthFileForm, MonitoringFilterForm
from monitoring.models import FileStatus, HealthFile
from monitoring.services.imports import health_file_import, health_file_receive
from portal import policy
from portal.errors import DomainError
from portal.forms import apply_domain_error
from portal.http import is_htmx, page_user

watchers = policy.page_requires(policy.can_watch_portfolio)
importers = policy.page_requires(policy.can_import_health_data)

# Each list of the monitoring page shows its latest rows; the import history has pages.
LIST_SIZE = 50
FILES_PAGE_SIZE = 20
# A file page lists this many rejected lines at most (a bad file may have thousands).
PROBLEMS_SHOWN = 500


@watchers
@require_GET
def monitoring(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    data.setdefault("period", str(DEFAULT_PERIOD))  # shown as chosen in the filter
    form = MonitoringFilterForm(data)
    filters = form.filters()
    since = timezone.now() - timedelta(days=filters["period"])
    chosen = {"since": since, "search": filters["q"]}
    alerts = selectors.alerts_latest(rule=filters["rule"], **chosen)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "monitoring/backoffice.html",
        {
            "form": form,
            "since": since,
            "alerts": alerts[:LIST_SIZE],
            "alert_total": alerts.count(),
            "grade_moves": selectors.grade_moves(**chosen)[:LIST_SIZE],
            "proceedings_moves": selectors.proceedings_moves(**chosen)[:LIST_SIZE],
            "exposures": selectors.exposure_at_stake(rule=filters["rule"], **chosen)[:LIST_SIZE],
            "files": Paginator(selectors.health_files(), FILES_PAGE_SIZE).get_page(filters["page"]),
            "list_size": LIST_SIZE,
            "query": query.urlencode(),
        },
    )


@importers
@require_http_methods(["GET", "POST"])
def monitoring_import(request: HttpRequest) -> HttpResponse:
    form = HealthFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            file = health_file_receive(
                kind=form.cleaned_data["kind"],
                name=upload.name or form.cleaned_data["kind"],
                content=upload.read(),
                actor=page_user(request),
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            if file.size <= settings.MONITORING_ASYNC_BYTES:
                file = health_file_import(file_id=file.pk)
            _tell(request, file)
            return redirect("monitoring_file", file_id=file.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "monitoring/import.html", {"form": form}, status=status)


def _tell(request: HttpRequest, file: HealthFile) -> None:
    if file.status == FileStatus.APPLIED:
        messages.success(
            request,
            _(
                "Fichier importé : %(records)s enregistrement(s), dont %(new)s nouveau(x), "
                "%(alerts)s alerte(s)."
            )
            % {"records": file.records, "new": file.new_records, "alerts": file.alerts},
        )
    elif file.status == FileStatus.REFUSED:
        messages.error(request, _("Fichier refusé : %(reason)s") % {"reason": file.error})
    else:
        messages.success(
            request, _("Fichier reçu : l'import se poursuit en arrière-plan, suivez-le ici.")
        )


@watchers
@require_GET
def monitoring_file(request: HttpRequest, file_id: UUID) -> HttpResponse:
    file = get_object_or_404(HealthFile.objects.select_related("received_by"), pk=file_id)
    running = file.status in (FileStatus.RECEIVED, FileStatus.IMPORTING)
    context: dict[str, Any] = {"file": file, "running": running}
    if is_htmx(request):
        response = render(request, "monitoring/_file_progress.html", context)
        if not running:
            # The import is over: the whole page again, with its counters and rejected lines.
            response["HX-Redirect"] = reverse("monitoring_file", kwargs={"file_id": file.pk})
        return response
    problems = file.problems or []
    context.update(
        problems=problems[:PROBLEMS_SHOWN],
        problems_hidden=max(0, len(problems) - PROBLEMS_SHOWN),
    )
    return render(request, "monitoring/file.html", context)

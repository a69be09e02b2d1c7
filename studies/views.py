"""Study pages: the list, starting a study (for a client or a prospect), the study with its buyer
list and verdicts, the insurer's review, the client's answer, and the report (page and PDF).

Every page asks the policy (`page_requires`) and fetches the study within the scope, so an
outsider gets 404; each POST calls one service and shows its refusal, never a 500."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal import policy
from portal import selectors as portal_selectors
from portal.errors import DomainError
from portal.forms import apply_domain_error, form_errors_as_messages
from portal.http import is_htmx, page_user
from portal.listing import ListPage, list_page
from portal.policy import page_requires
from studies import exports, selectors, services, tables
from studies.forms import (
    CountersignForm,
    DeclineForm,
    LineAdjustForm,
    LineFilterForm,
    ProspectForm,
    StudyStartForm,
    UploadForm,
)
from studies.models import Study, StudyLine, StudyStatus
from studies.pdf import report_context, study_report_pdf
from underwriting.models import Contract, ContractStatus

LINES_PER_PAGE = 50
REPORT_LINES_PER_PAGE = 100
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
REPORTED = (StudyStatus.FINALISED, StudyStatus.ACCEPTED, StudyStatus.DECLINED, StudyStatus.EXPIRED)


def _may_see_studies(user: Any) -> bool:
    """Studies are part of what every user in scope sees; buttons follow `may.*`."""
    return policy.can_see_cover(user)


readers = page_requires(_may_see_studies)
client_side = page_requires(policy.can_work_on_studies)
insurer_side = page_requires(policy.can_finalise_studies)
countersigners = page_requires(lambda user: policy.can_countersign(user))


def _study(study_id: UUID | str) -> Study:
    return get_object_or_404(selectors.studies_visible(), pk=study_id)


def _to_detail(study: Study, query: str = "", anchor: str = "") -> HttpResponse:
    url = reverse("study_detail", kwargs={"study_id": study.pk})
    # Only a query string is taken from the form, re-encoded: never a URL of its own.
    clean = QueryDict(query).urlencode() if query else ""
    return redirect(f"{url}{'?' + clean if clean else ''}{'#' + anchor if anchor else ''}")


# --- list and start ---------------------------------------------------------------------------


@readers
@require_GET
def study_list(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    review = policy.can_finalise_studies(user) and request.GET.get("review") == "1"
    studies = selectors.studies_to_review() if review else selectors.studies_visible()
    page = ListPage(
        request,
        queryset=tables.studies_listed(studies),
        table_class=tables.StudyTable,
        filterset_class=tables.StudyFilterSet,
        totals=tables.STUDY_TOTALS,
        keep=("review",),
    )
    return list_page(
        request,
        template="studies/study_list.html",
        page=page,
        export_name="etudes",
        context={"review": review},
    )


def _start_contract(policyholder_id: UUID) -> Contract | None:
    """The contract a study activates: the active one, else a draft one."""
    contracts = Contract.objects.filter(policyholder_id=policyholder_id)
    return (
        contracts.filter(status=ContractStatus.ACTIVE).first()
        or contracts.filter(status=ContractStatus.DRAFT).order_by("-created_at").first()
    )


@client_side
def study_new(request: HttpRequest) -> HttpResponse:
    policyholders = portal_selectors.visible_policyholders().order_by("name")
    form = StudyStartForm(request.POST or None, policyholders=policyholders)
    if request.method == "POST" and form.is_valid():
        policyholder = form.cleaned_data["policyholder"]
        contract = _start_contract(policyholder.pk)
        if contract is None:
            form.add_error(
                "policyholder",
                _("Cet assuré n'a pas de contrat actif ou en projet : contactez l'assureur."),
            )
        else:
            try:
                study = services.study_start(contract=contract, actor=page_user(request))
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(
                    request, _("Étude créée : déposez maintenant la liste des acheteurs.")
                )
                return redirect("study_detail", study_id=study.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "studies/study_new.html", {"form": form}, status=status)


@page_requires(policy.is_broker_user)
def study_new_prospect(request: HttpRequest) -> HttpResponse:
    form = ProspectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            study = services.study_start_for_prospect(
                data=form.prospect_input(), actor=page_user(request)
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Prospect et étude créés : déposez maintenant la liste des acheteurs."),
            )
            return redirect("study_detail", study_id=study.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "studies/study_new_prospect.html", {"form": form}, status=status)


# --- the study --------------------------------------------------------------------------------


def _detail_context(
    request: HttpRequest, study: Study, *, upload_form: UploadForm | None = None
) -> dict[str, Any]:
    user = page_user(request)
    filter_form = LineFilterForm(request.GET or None)
    lines = selectors.study_lines(study=study, filters=filter_form.filters())
    analysing = study.status == StudyStatus.ANALYSING
    page = Paginator(lines, LINES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    client = policy.can_work_on_studies(user)
    insurer = policy.can_finalise_studies(user)
    draft = study.status == StudyStatus.DRAFT
    return {
        "study": study,
        "filter_form": filter_form,
        "page": None if analysing else page,
        "query": query.urlencode(),
        "sort_query": sort_query.urlencode(),
        "current_sort": filter_form.filters().sort,
        "progress": selectors.study_progress(study) if analysing else None,
        "analysed": bool(study.uploaded_at) and not analysing,
        "upload_form": (upload_form or UploadForm()) if client and draft else None,
        "can_submit": client and draft and bool(study.uploaded_at) and study.lines_accepted > 0,
        "can_adjust": insurer and study.status == StudyStatus.SUBMITTED,
        "can_countersign": (
            study.status == StudyStatus.AWAITING_COUNTERSIGNATURE
            and policy.can_countersign(user, proposed_by_id=study.proposed_by_id)
        ),
        "countersign_form": CountersignForm(),
        "can_answer": client and study.status == StudyStatus.FINALISED,
        "decline_form": DeclineForm(),
        "has_report": study.status in REPORTED and study.finalised_at is not None,
        "sorts": list(selectors.SORTS),
    }


@readers
@require_GET
def study_detail(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    return render(request, "studies/study_detail.html", _detail_context(request, study))


@readers
@require_GET
def study_progress(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    progress = selectors.study_progress(study)
    response = render(request, "studies/_progress.html", {"study": study, "progress": progress})
    if progress["done"] and is_htmx(request):
        # The analysis is over: the whole page is shown again, with the verdicts.
        response["HX-Redirect"] = reverse("study_detail", kwargs={"study_id": study.pk})
    return response


@client_side
@require_POST
def study_upload(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            study = services.study_upload(
                study_id=study.pk,
                content=upload.read(),
                filename=upload.name or "liste",
                actor=page_user(request),
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            if study.status == StudyStatus.ANALYSING:
                messages.success(
                    request,
                    _("Fichier reçu (%(total)s lignes) : l'analyse est en cours.")
                    % {"total": study.lines_total},
                )
            else:
                counts = {"accepted": study.lines_accepted, "refused": study.lines_refused}
                text = _(
                    "Fichier analysé : %(accepted)s ligne(s) acceptée(s), %(refused)s refusée(s)."
                )
                messages.success(request, text % counts)
            return redirect("study_detail", study_id=study.pk)
    study.refresh_from_db()
    return render(
        request,
        "studies/study_detail.html",
        _detail_context(request, study, upload_form=form),
        status=400,
    )


@client_side
@require_POST
def study_submit(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    try:
        services.study_submit(study_id=study.pk, actor=page_user(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Étude soumise à l'assureur : ses experts vont l'examiner."))
    return _to_detail(study)


@insurer_side
@require_POST
def study_line_adjust(request: HttpRequest, study_id: UUID, line_id: UUID) -> HttpResponse:
    study = _study(study_id)
    try:
        line = selectors.study_line(study_id=study.pk, line_id=line_id)
    except StudyLine.DoesNotExist:
        raise Http404 from None
    form = LineAdjustForm(request.POST)
    query = request.POST.get("query", "")
    anchor = f"line-{line.line_number}"
    if not form.is_valid():
        form_errors_as_messages(request, form)
        return _to_detail(study, query, anchor)
    try:
        services.study_line_adjust(
            line_id=line.pk,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            actor=page_user(request),
        )
    except DomainError as error:
        messages.error(
            request,
            _("Ligne %(line)s : %(message)s")
            % {"line": line.line_number, "message": error.message},
        )
    else:
        messages.success(request, _("Ligne %(line)s ajustée.") % {"line": line.line_number})
    return _to_detail(study, query, anchor)


@insurer_side
@require_POST
def study_finalise(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    try:
        study = services.study_finalise(study_id=study.pk, actor=page_user(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if study.status == StudyStatus.AWAITING_COUNTERSIGNATURE:
            messages.warning(
                request,
                _("Au-delà de votre pouvoir : l'étude attend une contre-signature senior."),
            )
        else:
            messages.success(request, _("Rapport d'étude émis : le client peut l'accepter."))
    return _to_detail(study)


@countersigners
@require_POST
def study_countersign(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    form = CountersignForm(request.POST)
    if not form.is_valid():
        form_errors_as_messages(request, form)
        return _to_detail(study)
    try:
        study = services.study_countersign(
            study_id=study.pk,
            actor=page_user(request),
            approve=form.cleaned_data["approve"],
            note=form.cleaned_data["note"],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        if study.status == StudyStatus.FINALISED:
            messages.success(request, _("Contre-signé : le rapport d'étude est émis."))
        else:
            messages.success(request, _("Contre-signature rejetée : l'étude revient à l'arbitre."))
    return _to_detail(study)


@client_side
@require_POST
def study_accept(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    try:
        services.study_accept(study_id=study.pk, actor=page_user(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("Étude acceptée : le contrat est actif et les garanties sont en vigueur.")
        )
    return _to_detail(study)


@client_side
@require_POST
def study_decline(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        form_errors_as_messages(request, form)
        return _to_detail(study)
    try:
        services.study_decline(
            study_id=study.pk, actor=page_user(request), note=form.cleaned_data["note"]
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Étude refusée : l'assureur en est informé."))
    return _to_detail(study)


# --- files --------------------------------------------------------------------------------------


def _file_response(content: bytes, *, format: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=FORMATS[format])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{format}"'
    return response


@client_side
@require_GET
def study_template(request: HttpRequest, format: str) -> HttpResponse:
    if format not in FORMATS:
        raise Http404
    content = exports.template_csv() if format == "csv" else exports.template_xlsx()
    return _file_response(content, format=format, filename=_("modele-liste-acheteurs"))


@readers
@require_GET
def study_verdicts(request: HttpRequest, study_id: UUID, format: str) -> HttpResponse:
    study = _study(study_id)
    if format not in FORMATS or not study.uploaded_at or study.status == StudyStatus.ANALYSING:
        raise Http404
    verdicts = exports.verdicts_from_lines(selectors.study_lines(study=study))
    content = exports.verdicts_csv(verdicts) if format == "csv" else exports.verdicts_xlsx(verdicts)
    return _file_response(content, format=format, filename=f"verdicts-{study.contract.number}")


# --- the report ---------------------------------------------------------------------------------


def _not_yet(request: HttpRequest, study: Study) -> HttpResponse | None:
    """Before the finalisation there is no report: the study page says so."""
    if study.status in REPORTED and study.finalised_at is not None:
        return None
    messages.warning(
        request, _("Le rapport sera disponible une fois l'étude finalisée par l'assureur.")
    )
    return _to_detail(study)


@readers
@require_GET
def study_report(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    if (waiting := _not_yet(request, study)) is not None:
        return waiting
    report = selectors.study_report(study=study)
    page = Paginator(report.lines, REPORT_LINES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "studies/report.html", {**report_context(report), "page": page, "query": ""}
    )


@readers
@require_GET
def study_report_pdf_view(request: HttpRequest, study_id: UUID) -> HttpResponse:
    study = _study(study_id)
    if (waiting := _not_yet(request, study)) is not None:
        return waiting
    content = study_report_pdf(selectors.study_report(study=study))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="etude-{study.contract.number}-{study.finalised_at:%Y%m%d}.pdf"'
    )
    return response

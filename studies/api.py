"""Studies API under /api/v1/studies/: start (for a policyholder or a prospect), upload the buyer
list, read the lines and their verdicts, submit, the insurer's review (adjust, finalise,
countersign), the report, and the client's answer. Same services, same scope as the pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from portal import policy
from portal.api_base import ScopedReadOnlyViewSet, api_user
from portal.tenancy import activate_scope_for
from studies import exports, selectors, services
from studies.filters import StudyFilter
from studies.models import Study, StudyStatus
from studies.serializers import (
    LineQuerySerializer,
    ProspectSerializer,
    ReportSerializer,
    StudyCountersignSerializer,
    StudyDeclineSerializer,
    StudyLineAdjustSerializer,
    StudyLineSerializer,
    StudySerializer,
    StudyStartSerializer,
    StudyUploadSerializer,
    VerdictsQuerySerializer,
)
from underwriting.models import Contract

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _require(allowed: bool) -> None:
    """The policy's answer at the edge: a user who may not act sees nothing to act on."""
    if not allowed:
        raise NotFound


class _FileTypeNegotiation(DefaultContentNegotiation):
    """Here `?format=` names the file to download, not a renderer: DRF must not read it."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


# --- the viewset ----------------------------------------------------------------------------


class StudyViewSet(ScopedReadOnlyViewSet):
    """Portfolio studies of the policyholders in scope. Filters: `status`, `policyholder`.

    Writes answer 404 to a user the policy does not let act (DESIGN §3); a refused rule is a
    400/409 with `code`, `field` and `detail`."""

    serializer_class = StudySerializer
    filterset_class = StudyFilter

    def scoped_queryset(self) -> QuerySet[Any]:
        return selectors.studies_visible()

    def _answer(self, study: Study, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.studies_visible().get(pk=study.pk)
        return Response(StudySerializer(fresh).data, status=code)

    # --- start ------------------------------------------------------------------------------

    @extend_schema(request=StudyStartSerializer, responses={201: StudySerializer})
    def create(self, request: Request) -> Response:
        """Start a study on a contract in scope (a draft or active contract, no study open on
        it). A contract outside the scope is a 404, as for any object one cannot see."""
        user = api_user(request)
        _require(policy.can_work_on_studies(user))
        payload = StudyStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        contract = (
            Contract.objects.select_related("policyholder")
            .filter(pk=payload.validated_data["contract"])
            .first()
        )
        if contract is None:
            raise NotFound  # not a contract the caller sees: nothing to start a study on
        study = services.study_start(contract=contract, actor=user)
        return self._answer(study, status.HTTP_201_CREATED)

    @extend_schema(request=ProspectSerializer, responses={201: StudySerializer})
    @action(detail=False, methods=["post"])
    def prospect(self, request: Request) -> Response:
        """A broker brings a prospect: its organisation, draft contract, the broker's mandate and
        the study are created together; its contact is invited when the study is accepted."""
        user = api_user(request)
        _require(policy.can_work_on_studies(user) and policy.is_broker_user(user))
        payload = ProspectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        study = services.study_start_for_prospect(data=payload.prospect_input(), actor=user)
        activate_scope_for(user)  # the new mandate widens the broker's scope from now on
        return self._answer(study, status.HTTP_201_CREATED)

    # --- the buyer list ---------------------------------------------------------------------

    @extend_schema(
        request={"multipart/form-data": StudyUploadSerializer},
        responses={
            200: OpenApiResponse(StudySerializer, description="Analysed at once."),
            202: OpenApiResponse(
                StudySerializer,
                description="A large list: a worker analyses it (`status: analysing`); follow "
                "`progress` on the study, then read `lines/`.",
            ),
        },
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def upload(self, request: Request, pk: str | None = None) -> Response:
        """Upload (or replace, while a draft) the buyer list. An unreadable file is a 400 on
        `file` and stores nothing."""
        user = api_user(request)
        _require(policy.can_work_on_studies(user))
        target = self.get_object()
        payload = StudyUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        study = services.study_upload(
            study_id=target.pk,
            content=upload.read(),
            filename=upload.name or "",
            actor=user,
        )
        # The study as the upload left it: a worker may already be moving it on.
        analysing = study.status == StudyStatus.ANALYSING
        return Response(
            StudySerializer(study).data,
            status=status.HTTP_202_ACCEPTED if analysing else status.HTTP_200_OK,
        )

    @extend_schema(parameters=[LineQuerySerializer], responses=StudyLineSerializer(many=True))
    @action(detail=True, methods=["get"])
    def lines(self, request: Request, pk: str | None = None) -> Response:
        """The lines with their verdict, errors, grade, maximum, proposal and adjustment.
        Filters: `verdict`, `grade_min`, `grade_max`; `sort` (`line`, `name`, `[-]grade`,
        `[-]exposure`, `[-]proposed`)."""
        study = self.get_object()
        query = LineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        lines = selectors.study_lines(study=study, filters=query.filters())
        page = self.paginate_queryset(lines)
        if page is None:
            return Response(StudyLineSerializer(lines, many=True).data)
        return self.get_paginated_response(StudyLineSerializer(page, many=True).data)

    @extend_schema(
        parameters=[VerdictsQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, XLSX): OpenApiTypes.BINARY,
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=_FileTypeNegotiation)
    def verdicts(self, request: Request, pk: str | None = None, **kwargs: Any) -> HttpResponse:
        """Every line's verdict as a file (`format=csv`, the default, or `xlsx`), with the
        template's headers so that a corrected file can be uploaded again."""
        study = self.get_object()
        query = VerdictsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        verdicts = exports.verdicts_from_lines(selectors.study_lines(study=study))
        if query.validated_data["format"] == "xlsx":
            response = HttpResponse(exports.verdicts_xlsx(verdicts), content_type=XLSX)
            extension = "xlsx"
        else:
            response = HttpResponse(
                exports.verdicts_csv(verdicts), content_type="text/csv; charset=utf-8"
            )
            extension = "csv"
        name = f"verdicts-{study.contract.number}.{extension}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @extend_schema(request=None, responses=StudySerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Send the analysed list to the insurer's experts."""
        user = api_user(request)
        _require(policy.can_work_on_studies(user))
        target = self.get_object()
        return self._answer(services.study_submit(study_id=target.pk, actor=user))

    # --- the insurer's review ---------------------------------------------------------------

    @extend_schema(
        request=StudyLineAdjustSerializer,
        responses=StudyLineSerializer,
        parameters=[OpenApiParameter("line_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"lines/(?P<line_id>[^/.]+)/adjust",
        url_name="line-adjust",
    )
    def adjust(self, request: Request, pk: str | None = None, line_id: str = "") -> Response:
        """Set a line's top-up (between 0 and the rules' maximum), with a reason."""
        user = api_user(request)
        _require(policy.can_finalise_studies(user))
        study = self.get_object()
        try:
            line_uuid = UUID(line_id)
        except ValueError:
            raise NotFound from None
        line = selectors.study_lines(study=study).filter(pk=line_uuid).first()
        if line is None:
            raise NotFound
        payload = StudyLineAdjustSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.study_line_adjust(line_id=line.pk, actor=user, **payload.validated_data)
        fresh = selectors.study_lines(study=study).get(pk=line.pk)
        return Response(StudyLineSerializer(fresh).data)

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(
                StudySerializer,
                description="`finalised`, or `awaiting_countersignature` above the authority.",
            )
        },
    )
    @action(detail=True, methods=["post"])
    def finalise(self, request: Request, pk: str | None = None) -> Response:
        """Issue the report; above the arbiter's authority in total, a senior arbiter
        countersigns first."""
        user = api_user(request)
        _require(policy.can_finalise_studies(user))
        target = self.get_object()
        return self._answer(services.study_finalise(study_id=target.pk, actor=user))

    @extend_schema(request=StudyCountersignSerializer, responses=StudySerializer)
    @action(detail=True, methods=["post"])
    def countersign(self, request: Request, pk: str | None = None) -> Response:
        """Approve (the report is issued) or reject with a note (back to review)."""
        user = api_user(request)
        _require(policy.can_countersign(user))
        target = self.get_object()
        payload = StudyCountersignSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        study = services.study_countersign(study_id=target.pk, actor=user, **payload.validated_data)
        return self._answer(study)

    @extend_schema(responses=ReportSerializer)
    @action(detail=True, methods=["get"])
    def report(self, request: Request, pk: str | None = None) -> Response:
        """Per buyer the exposure, primary, top-up and cover; the totals; the contract terms;
        the estimated monthly premium on the contract's basis."""
        study = self.get_object()
        return Response(ReportSerializer(selectors.study_report(study=study)).data)

    # --- the client's answer ----------------------------------------------------------------

    @extend_schema(request=None, responses=StudySerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        """Activate the contract and create every guarantee, in one transaction."""
        user = api_user(request)
        _require(policy.can_work_on_studies(user))
        target = self.get_object()
        return self._answer(services.study_accept(study_id=target.pk, actor=user))

    @extend_schema(request=StudyDeclineSerializer, responses=StudySerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str | None = None) -> Response:
        user = api_user(request)
        _require(policy.can_work_on_studies(user))
        target = self.get_object()
        payload = StudyDeclineSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        study = services.study_decline(
            study_id=target.pk, actor=user, note=payload.validated_data["note"]
        )
        return self._answer(study)


def register(router: BaseRouter) -> None:
    router.register("studies", StudyViewSet, basename="study")

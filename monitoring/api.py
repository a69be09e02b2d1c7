"""Monitoring API under /api/v1/: a data provider posts buyer-health files (BODACC notices,
grade changes) with an insurer account's token and reads the import history; policyholders'
users and brokers read their alert feed. Same services, same scope as the pages.

- `health-files/`: arbiters, senior arbiters and the insurer admin (`can_import_health_data`);
  anybody else gets 404, on the list as on a file, as for any object one may not see.
- `alerts/`: the alerts as each exposed policyholder received them (`AlertExposure`), within
  the caller's scope, for those who have an alert feed (`can_see_alert_feed`): a policyholder's
  users see their own, a broker those of the policyholders it holds a current mandate for.
  Insurer staff get 404, as on the alerts page: they watch the whole portfolio from the
  monitoring page.
- `insights/`: experts' insights on buyers. Insurer staff who work the queue read every insight;
  a policyholder's users and its brokers read those that reached one of their policyholders or
  are on a buyer one of them is exposed to today (`monitoring.selectors.insights_visible`); an
  unexposed tenant reads none. Arbiters, senior arbiters and the insurer admin publish (`POST`);
  anybody else gets 404, as on the pages.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from monitoring import selectors
from monitoring.filters import AlertFilter, InsightFilter
from monitoring.models import AlertExposure, BuyerInsight, FileStatus, HealthFile
from monitoring.serializers import (
    AlertExposureSerializer,
    BuyerInsightCreateSerializer,
    BuyerInsightSerializer,
    HealthFileSerializer,
    HealthFileUploadSerializer,
)
from monitoring.services.imports import health_file_import, health_file_receive
from monitoring.services.insights import buyer_insight_publish
from portal import policy
from portal.api_base import ScopedGenericViewSet, ScopedReadOnlyViewSet, api_require, api_user
from portal.errors import RuleViolation
from underwriting.models import Buyer


def _require(allowed: bool) -> None:
    """The policy's answer at the edge: a user who may not act sees nothing to act on."""
    if not allowed:
        raise NotFound


class HealthFileViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Files given to the built-in provider: the import history, latest first."""

    serializer_class = HealthFileSerializer
    parser_classes = [MultiPartParser]  # only `create` takes a body

    def scoped_queryset(self) -> QuerySet[Any]:
        # Not a tenant's rows: the insurer's own import history, for those who import.
        history = HealthFile.objects.order_by("-received_at", "id")
        if getattr(self, "swagger_fake_view", False):
            return history
        _require(policy.can_import_health_data(self.request.user))
        return history

    @extend_schema(
        request={"multipart/form-data": HealthFileUploadSerializer},
        responses={
            201: OpenApiResponse(
                HealthFileSerializer,
                description="Received. A small file is imported at once (`status: applied`, "
                "with its counters and rejected lines); a large one is queued for a worker "
                "(`status: received`): follow `progress` on `health-files/{id}/`.",
            ),
            400: OpenApiResponse(
                description="Refused: `{code, detail, field}` (`field` is `kind` or `file`). "
                "A file received but unreadable as a whole also carries `health_file`, its id "
                "in the import history."
            ),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Post a BODACC or grade file. Malformed records are reported with their line and
        skipped; the rest is applied. Posting the same file again stores and sends nothing."""
        user = api_user(request)
        _require(policy.can_import_health_data(user))
        payload = HealthFileUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        file = health_file_receive(
            kind=payload.validated_data["kind"],
            name=upload.name or "",
            content=upload.read(),
            actor=user,
        )
        if file.status == FileStatus.RECEIVED and not _queued(file):
            file = health_file_import(file_id=file.pk)
        if file.status == FileStatus.REFUSED:
            raise RuleViolation(
                file.error, field="file", code="file_refused", health_file=str(file.pk)
            )
        return Response(HealthFileSerializer(file).data, status=status.HTTP_201_CREATED)


def _queued(file: HealthFile) -> bool:
    """Whether the service queued the file's import for a worker (a large file, as the page)."""
    return file.size > settings.MONITORING_ASYNC_BYTES


class AlertViewSet(mixins.ListModelMixin, ScopedGenericViewSet):
    """The alert feed of the policyholders in scope, latest first. Filter: `buyer` (an id)."""

    serializer_class = AlertExposureSerializer
    filterset_class = AlertFilter

    def scoped_queryset(self) -> QuerySet[Any]:
        feed = AlertExposure.objects.select_related("alert__buyer").order_by("-created_at", "id")
        if getattr(self, "swagger_fake_view", False):
            return feed
        _require(policy.can_see_alert_feed(self.request.user))
        return feed


@extend_schema_view(
    create=extend_schema(
        request=BuyerInsightCreateSerializer,
        responses={
            201: BuyerInsightSerializer,
            400: OpenApiResponse(
                description="Refused: `{code, detail, field}` (`field` names the input at fault: "
                "`buyer`, `assessment`, `outlook`, `recommended_min` or `recommended_max`)."
            ),
            409: OpenApiResponse(description="Another insight on the buyer was just published."),
        },
    ),
)
class InsightViewSet(mixins.ListModelMixin, ScopedGenericViewSet):
    """Insights on buyers, latest first. Filter: `buyer` (an id)."""

    serializer_class = BuyerInsightSerializer
    filterset_class = InsightFilter

    def scoped_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return BuyerInsight.objects.all()
        user = self.request.user
        if policy.can_see_queue(user):
            return selectors.insight_history()
        api_require(policy.can_see_alert_feed(user))
        return selectors.insights_visible()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Publish an insight on a buyer: it reaches the policyholders exposed to the buyer
        today and their brokers, once. Immutable once published; it supersedes the latest."""
        user = api_user(request)
        api_require(policy.can_publish_insights(user))
        payload = BuyerInsightCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        buyer = Buyer.objects.filter(pk=data.pop("buyer")).first()
        if buyer is None:
            raise RuleViolation(_("Acheteur introuvable."), field="buyer", code="not_found")
        insight = buyer_insight_publish(buyer=buyer, actor=user, **data)
        published = selectors.insight_history().get(pk=insight.pk)
        return Response(BuyerInsightSerializer(published).data, status=status.HTTP_201_CREATED)


def register(router: BaseRouter) -> None:
    router.register("health-files", HealthFileViewSet, basename="health-file")
    router.register("alerts", AlertViewSet, basename="alert")
    router.register("insights", InsightViewSet, basename="insight")

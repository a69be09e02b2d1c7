"""Underwriting API under /api/v1/: buyers, top-up requests (with the arbiter's actions),
guarantees and the order-time coverage check. Same services, same scope as the pages."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from portal import policy
from portal import selectors as portal_selectors
from portal.api_base import ScopedGenericViewSet, ScopedReadOnlyViewSet, api_user
from portal.errors import DomainError
from portal.models import OrganisationKind, User
from underwriting import selectors, services
from underwriting.api_coverage import CoverageViewSet
from underwriting.filters import GuaranteeFilter, GuaranteeRequestFilter
from underwriting.identifiers import parse_company_id
from underwriting.models import (
    Buyer,
    Contract,
    Guarantee,
)
from underwriting.serializers import (
    AssignSerializer,
    BuyerLookupSerializer,
    BuyerQuerySerializer,
    BuyerSearchSerializer,
    BuyerSerializer,
    CountersignSerializer,
    DecideSerializer,
    GuaranteeCancelSerializer,
    GuaranteeReduceSerializer,
    GuaranteeRequestSerializer,
    GuaranteeSerializer,
    LimitsSerializer,
    PrimaryReportSerializer,
    RequestInputSerializer,
    ResumeSerializer,
    WithdrawSerializer,
)


def _require(allowed: bool) -> None:
    """The policy's answer at the edge: a user who may not act sees nothing to act on."""
    if not allowed:
        raise NotFound


# --- helpers ------------------------------------------------------------------------------


def _contract_for(user: User, contract_id: Any) -> Contract:
    """The contract named in the input (within scope), or the wholesaler's active contract."""
    if contract_id:
        contract = Contract.objects.select_related("policyholder").filter(pk=contract_id).first()
        if contract is None:
            raise ValidationError({"contract": ["Unknown contract."]})
        return contract
    organisation = user.organisation
    if organisation is not None and organisation.kind == OrganisationKind.POLICYHOLDER:
        contract = selectors.active_contract_for(policyholder_id=organisation.pk)
        if contract is not None:
            return contract
    raise ValidationError({"contract": ["This field is required."]})


def _existing_buyer(data: dict[str, Any]) -> Buyer:
    """The buyer named by id, or by any identifier, without adding it to the registry."""
    if data.get("buyer"):
        buyer = Buyer.objects.filter(pk=data["buyer"]).first()
        if buyer is None:
            raise ValidationError({"buyer": ["Unknown buyer."]})
        return buyer
    try:
        company = parse_company_id(data.get("buyer_identifier", ""), field="buyer_identifier")
    except DomainError as error:
        raise ValidationError({"buyer_identifier": [error.message]}) from None
    found = selectors.buyer_by_company_id(siren=company.siren, vat_number=company.vat_number)
    buyer = found.first()
    if buyer is None:
        raise ValidationError({"buyer_identifier": ["Unknown buyer: add it with POST buyers/."]})
    return buyer


def _buyer_for(data: dict[str, Any], user: User) -> Buyer:
    if data.get("buyer"):
        return _existing_buyer(data)
    try:
        return services.buyer_find_or_create(
            identifier=data["buyer_identifier"], name=data.get("buyer_name", ""), actor=user
        )
    except DomainError as error:
        field = {"identifier": "buyer_identifier", "name": "buyer_name"}.get(error.field or "")
        raise ValidationError({field or "buyer": [error.message]}) from None


# --- views --------------------------------------------------------------------------------


class BuyerViewSet(mixins.ListModelMixin, ScopedGenericViewSet):
    """The global buyer registry: search by identifier or name, look up or create by identifier.

    No detail route: a buyer's cover is read through `coverage/` and `guarantees/`, in scope.
    """

    serializer_class = BuyerSerializer
    pagination_class = None  # at most `buyer_search`'s limit, counted

    def scoped_queryset(self) -> QuerySet[Any]:
        return Buyer.objects.none()

    @extend_schema(parameters=[BuyerQuerySerializer], responses=BuyerSearchSerializer)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = api_user(request)
        # Those who add buyers look them up; insurer staff read the whole registry anyway.
        _require(policy.can_look_up_buyers(user) or policy.is_insurer_staff(user))
        query = BuyerQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        buyers = selectors.buyer_search(query=query.validated_data["q"])
        return Response({"count": len(buyers), "results": BuyerSerializer(buyers, many=True).data})

    @extend_schema(request=BuyerLookupSerializer, responses={200: BuyerSerializer})
    def create(self, request: Request) -> Response:
        user = api_user(request)
        _require(policy.can_look_up_buyers(user))
        payload = BuyerLookupSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        buyer = services.buyer_find_or_create(actor=user, **payload.validated_data)
        return Response(BuyerSerializer(buyer).data, status=status.HTTP_200_OK)


class GuaranteeRequestViewSet(ScopedReadOnlyViewSet):
    """Top-up requests. Filters: `status`, `buyer`, `contract`, `reason`, `assigned_to`
    (`me`, `none` or a user id); `ordering=due` gives the arbiter queue, oldest due first."""

    serializer_class = GuaranteeRequestSerializer
    filterset_class = GuaranteeRequestFilter

    def scoped_queryset(self) -> QuerySet[Any]:
        return selectors.requests_visible()

    @extend_schema(
        request=RequestInputSerializer,
        responses={201: GuaranteeRequestSerializer, 200: GuaranteeRequestSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="A retried call with the same key never creates a second request.",
            )
        ],
    )
    def create(self, request: Request) -> Response:
        user = api_user(request)
        _require(policy.can_request_top_up(user))
        payload = RequestInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        contract = _contract_for(user, data.get("contract"))
        buyer = _buyer_for(data, user)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 100:
            raise ValidationError({"Idempotency-Key": ["At most 100 characters."]})
        fingerprint = hashlib.sha256(
            json.dumps(request.data, sort_keys=True, default=str).encode()
        ).hexdigest()
        created, is_new = services.guarantee_request_submit(
            contract=contract,
            buyer=buyer,
            data=payload.request_input(),
            reason=data["reason"],
            seasonal_until=data.get("seasonal_until"),
            comment=data.get("comment", ""),
            submitted_by=user,
            idempotency_key=key,
            fingerprint=fingerprint if key else "",
        )
        fresh = selectors.requests_visible().get(pk=created.pk)
        response = Response(
            self.get_serializer(fresh).data,
            status=status.HTTP_201_CREATED if is_new else status.HTTP_200_OK,
        )
        if not is_new:
            response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(request=RequestInputSerializer, responses=LimitsSerializer)
    @action(detail=False, methods=["post"])
    def limits(self, request: Request) -> Response:
        """The largest top-up the rules allow for these figures, and the rule that sets it."""
        user = api_user(request)
        _require(policy.can_request_top_up(user))
        payload = RequestInputSerializer(data={"requested_top_up": "0", **request.data})
        payload.is_valid(raise_exception=True)
        contract = _contract_for(user, payload.validated_data.get("contract"))
        # Only an existing buyer: the registry grows through `POST buyers/`, not through limits.
        buyer = _existing_buyer(payload.validated_data)
        answer = services.request_limits(
            contract=contract, buyer=buyer, data=payload.request_input(), actor=user
        )
        limits, breach = answer.limits, answer.breach
        return Response(
            {
                "max_top_up": str(limits.max_top_up),
                "primary_amount": str(answer.primary),
                "rule": limits.binding.code if limits.binding else None,
                "message": limits.binding.message if limits.binding else None,
                "breach": {"rule": breach.code, "message": breach.message} if breach else None,
            }
        )

    @extend_schema(request=WithdrawSerializer, responses=GuaranteeRequestSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        user = api_user(request)
        target = self.get_object()
        _require(policy.can_withdraw_request(user))
        payload = WithdrawSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.guarantee_request_withdraw(
            request_id=target.pk, actor=user, reason=payload.validated_data["reason"]
        )
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        request=DecideSerializer,
        responses={
            200: GuaranteeRequestSerializer,
            202: OpenApiResponse(
                GuaranteeRequestSerializer,
                description="Above the arbiter's authority: recorded, awaiting a senior "
                "arbiter's countersignature.",
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        user = api_user(request)
        _require(policy.can_decide(user))
        target = self.get_object()
        payload = DecideSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.guarantee_request_decide(
            request_id=target.pk, actor=user, **payload.validated_data
        )
        return Response(
            self.get_serializer(self.get_object()).data,
            status=status.HTTP_202_ACCEPTED if result.pending else status.HTTP_200_OK,
        )

    @extend_schema(request=ResumeSerializer, responses=GuaranteeRequestSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Resume a request held for collective proceedings on its buyer (409 if not held)."""
        user = api_user(request)
        _require(policy.can_resume_requests(user))
        target = self.get_object()
        payload = ResumeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.guarantee_request_resume(
            request_id=target.pk, actor=user, note=payload.validated_data["note"]
        )
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=CountersignSerializer, responses=GuaranteeRequestSerializer)
    @action(detail=True, methods=["post"])
    def countersign(self, request: Request, pk: str | None = None) -> Response:
        user = api_user(request)
        _require(policy.can_countersign(user))
        target = self.get_object()
        payload = CountersignSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.pending_decision_countersign(
            request_id=target.pk, actor=user, **payload.validated_data
        )
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=AssignSerializer, responses=GuaranteeRequestSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        user = api_user(request)
        _require(policy.can_assign_requests(user))
        target = self.get_object()
        payload = AssignSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        arbiter = None
        if payload.validated_data["arbiter"] is not None:
            arbiter = (
                portal_selectors.arbiters(organisation_id=user.organisation_id)
                .filter(pk=payload.validated_data["arbiter"])
                .first()
            )
            if arbiter is None:
                raise ValidationError({"arbiter": ["Unknown arbiter."]})
        services.guarantee_request_assign(request_id=target.pk, arbiter=arbiter, actor=user)
        return Response(self.get_serializer(self.get_object()).data)


class GuaranteeViewSet(ScopedReadOnlyViewSet):
    """Guarantee periods. Filters: `buyer`, `contract`, `in_force=true` (today); a bad value is
    a 400 naming the parameter."""

    serializer_class = GuaranteeSerializer
    filterset_class = GuaranteeFilter

    def scoped_queryset(self) -> QuerySet[Any]:
        return Guarantee.objects.select_related("buyer").order_by("buyer__name", "period", "id")

    @extend_schema(request=GuaranteeReduceSerializer, responses={201: GuaranteeSerializer})
    @action(detail=True, methods=["post"])
    def reduce(self, request: Request, pk: str | None = None) -> Response:
        user = api_user(request)
        _require(policy.can_change_guarantees(user))
        target = self.get_object()
        payload = GuaranteeReduceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        created = services.guarantee_reduce(guarantee=target, actor=user, **payload.validated_data)
        return Response(GuaranteeSerializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=GuaranteeCancelSerializer, responses={204: None})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        user = api_user(request)
        _require(policy.can_change_guarantees(user))
        target = self.get_object()
        payload = GuaranteeCancelSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.guarantee_cancel(guarantee=target, actor=user, **payload.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=PrimaryReportSerializer, responses={200: GuaranteeSerializer, 204: None})
    @action(detail=False, methods=["post"], url_path="report-primary")
    def report_primary(self, request: Request) -> Response:
        """Report a new primary limit: the top-up follows (capped at m × P', ended at 0)."""
        user = api_user(request)
        _require(policy.can_report_primary(user))
        payload = PrimaryReportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        contract = _contract_for(user, data.get("contract"))
        buyer = _existing_buyer({"buyer": data["buyer"]})
        created = services.guarantee_primary_report(
            contract=contract,
            buyer=buyer,
            primary_amount=data["primary_amount"],
            effective_on=data["effective_on"],
            note=data["note"],
            actor=user,
        )
        if created is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(GuaranteeSerializer(created).data)


def register(router: BaseRouter) -> None:
    router.register("buyers", BuyerViewSet, basename="buyer")
    router.register("guarantee-requests", GuaranteeRequestViewSet, basename="guarantee-request")
    router.register("guarantees", GuaranteeViewSet, basename="guarantee")
    router.register("coverage", CoverageViewSet, basename="coverage")

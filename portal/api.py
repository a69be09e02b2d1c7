"""Portal API: who am I, the policyholders and contracts in my scope, and API tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import authenticate
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.views import APIView

from portal import policy, selectors, services, two_factor
from portal.api_base import ScopedReadOnlyViewSet, TenantScopedAPIMixin, api_user
from portal.authentication import TokenAuthentication
from portal.models import Organisation, User
from underwriting import services as underwriting_services
from underwriting.models import Contract


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "kind", "name", "siren"]


class MeSerializer(serializers.ModelSerializer):
    organisation = OrganisationSerializer()

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "organisation"]


class ContractSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "policyholder",
            "primary_insurer_name",
            "primary_policy_number",
            "status",
            "starts_on",
            "ends_on",
            "monthly_rate",
            "premium_basis",
            "insured_percentage",
            "max_credit_term_days",
            "waiting_period_days",
            "declaration_deadline_days",
            "top_up_multiple",
            "aggregate_cap",
            "discretionary_limit",
            "instant_min_grade",
            "minimum_premium",
            "tax_rate",
        ]


class MeView(TenantScopedAPIMixin, APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class PolicyholderViewSet(ScopedReadOnlyViewSet):
    serializer_class = OrganisationSerializer

    def scoped_queryset(self) -> QuerySet[Any]:
        return selectors.visible_policyholders()


class ContractEndSerializer(serializers.Serializer):
    effective_on = serializers.DateField(help_text="First day without cover.")
    reason = serializers.CharField(max_length=1000)


class ContractViewSet(ScopedReadOnlyViewSet):
    serializer_class = ContractSerializer

    def scoped_queryset(self) -> QuerySet[Any]:
        return Contract.objects.order_by("number")

    def _end(self, request: Request, action: Callable[..., int]) -> Response:
        user = api_user(request)
        if not policy.can_manage_contracts(user):
            raise NotFound
        contract = self.get_object()
        payload = ContractEndSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        action(contract=contract, actor=user, **payload.validated_data)
        return Response(ContractSerializer(self.get_object()).data)

    @extend_schema(request=ContractEndSerializer, responses=ContractSerializer)
    @action(detail=True, methods=["post"])
    def terminate(self, request: Request, pk: str | None = None) -> Response:
        """Terminate the contract (insurer admin): every top-up ends from `effective_on`."""
        return self._end(request, underwriting_services.contract_terminate)

    @extend_schema(request=ContractEndSerializer, responses=ContractSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str | None = None) -> Response:
        """Suspend the contract (insurer admin): every top-up ends from `effective_on`."""
        return self._end(request, underwriting_services.contract_suspend)


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    otp = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text=(
            "Two-factor code: the 6 digits of the user's authenticator app, or one of their "
            "recovery codes. Required of every insurer user, of the users of an organisation "
            "that requires two-factor sign-in, and of any user who enrolled; a user who must "
            "use it but has not enrolled yet enrols in the browser first. Missing or wrong: "
            "400 with `field` = `otp`."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        user = authenticate(request=request, username=attrs["username"], password=attrs["password"])
        if user is None:
            raise serializers.ValidationError(
                _("Impossible de se connecter avec ces identifiants."), code="authorization"
            )
        two_factor.api_token_two_factor_check(
            user=user, otp=attrs.get("otp", ""), request=getattr(request, "_request", request)
        )
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once: only its hash is stored.")
    expiry = serializers.DateTimeField(allow_null=True)


class ObtainTokenView(APIView):
    """Exchange a username and password for an API token (login throttling applies). Each
    call issues a new token (one per device); it expires after `API_TOKEN_TTL_HOURS`."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    serializer_class = TokenRequestSerializer

    @extend_schema(request=TokenRequestSerializer, responses=TokenSerializer)
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, expiry = services.api_token_issue(
            user=serializer.validated_data["user"], request=request._request
        )
        return Response(TokenSerializer({"token": token, "expiry": expiry}).data)


class LogoutView(APIView):
    """Revoke the token this request is authenticated with."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        token = request.auth
        assert isinstance(token, AuthToken)  # TokenAuthentication is this view's only one
        services.api_token_revoke(
            user=api_user(request), token_key=token.token_key, request=request._request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revoke every token of the authenticated user (every device)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        user = api_user(request)
        services.api_tokens_revoke_all(user_id=user.pk, request=request._request, actor=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router: BaseRouter) -> None:
    router.register("policyholders", PolicyholderViewSet, basename="policyholder")
    router.register("contracts", ContractViewSet, basename="contract")

"""Portal API: who am I, the policyholders and contracts in my scope, and API tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.views import APIView

from portal import selectors
from portal.api_base import ScopedReadOnlyViewSet, TenantScopedAPIMixin
from portal.models import Organisation, User
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


class ContractViewSet(ScopedReadOnlyViewSet):
    serializer_class = ContractSerializer

    def scoped_queryset(self) -> QuerySet[Any]:
        return Contract.objects.order_by("number")


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for an API token (login throttling applies)."""


def register(router: BaseRouter) -> None:
    router.register("policyholders", PolicyholderViewSet, basename="policyholder")
    router.register("contracts", ContractViewSet, basename="contract")

"""Serializers of the underwriting API: what goes in and out of /api/v1/ for buyers, requests,
decisions, guarantees and the order-time coverage check."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from portal import policy
from portal.text_limits import NOTE_MAX_LENGTH, SEARCH_MAX_LENGTH
from underwriting import services
from underwriting.models import (
    MONEY,
    Buyer,
    Decision,
    DecisionOutcome,
    Guarantee,
    GuaranteeRequest,
    RequestReason,
)
from underwriting.rules import money


class BuyerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Buyer
        fields = ["id", "siren", "vat_number", "country", "name", "city", "grade", "proceedings"]


@extend_schema_serializer(many=False)  # the list's answer is one object, not a list
class BuyerSearchSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = BuyerSerializer(many=True)


class BuyerLookupSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=40, help_text="SIREN, SIRET or VAT number")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = [
            "id",
            "outcome",
            "amount",
            "valid_from",
            "valid_until",
            "client_message",
            "rationale",
            "decided_by",
            "countersigned_by",
            "instant",
            "decided_at",
        ]
        extra_kwargs = {
            "rationale": {"help_text": "Internal note: present for insurer staff only."}
        }

    def to_representation(self, instance: Decision) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not policy.can_read_internal_notes(request.user):
            data.pop("rationale", None)  # the internal note never leaves the insurer
        return data


class GuaranteeRequestSerializer(serializers.ModelSerializer):
    buyer = BuyerSerializer()
    decision = serializers.SerializerMethodField()

    class Meta:
        model = GuaranteeRequest
        fields = [
            "id",
            "policyholder",
            "contract",
            "buyer",
            "exposure",
            "primary_amount",
            "requested_top_up",
            "wants_maximum",
            "credit_term_days",
            "reason",
            "seasonal_until",
            "comment",
            "status",
            "submitted_at",
            "due_at",
            "assigned_to",
            "held_since",
            "hold_reason",
            "decision",
        ]
        # Set by the monitoring sweep (collective proceedings), cleared by `resume`.
        read_only_fields = ["held_since", "hold_reason"]

    @extend_schema_field(DecisionSerializer(allow_null=True))
    def get_decision(self, obj: GuaranteeRequest) -> dict[str, Any] | None:
        decision = getattr(obj, "decision", None)
        if decision is None:
            return None
        return DecisionSerializer(decision, context=self.context).data


class RequestInputSerializer(serializers.Serializer):
    contract = serializers.UUIDField(
        required=False, help_text="Defaults to the caller's active contract (wholesalers)."
    )
    buyer = serializers.UUIDField(required=False)
    buyer_identifier = serializers.CharField(
        required=False, max_length=40, help_text="SIREN, SIRET or VAT number, instead of `buyer`."
    )
    buyer_name = serializers.CharField(required=False, max_length=200, allow_blank=True)
    exposure = serializers.DecimalField(**MONEY, min_value=0)
    primary_amount = serializers.DecimalField(**MONEY, min_value=0, required=False)
    primary_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False
    )
    requested_top_up = serializers.DecimalField(**MONEY, min_value=0, required=False)
    wants_maximum = serializers.BooleanField(default=False)
    credit_term_days = serializers.IntegerField(min_value=0, max_value=720)
    reason = serializers.ChoiceField(choices=RequestReason.choices, default=RequestReason.NEW_ORDER)
    seasonal_until = serializers.DateField(required=False, allow_null=True)
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("buyer") and not attrs.get("buyer_identifier"):
            raise ValidationError({"buyer": ["Give `buyer` (id) or `buyer_identifier`."]})
        if attrs.get("primary_amount") is None and attrs.get("primary_percent") is None:
            raise ValidationError(
                {"primary_amount": ["Give `primary_amount` or `primary_percent`."]}
            )
        if not attrs.get("wants_maximum") and attrs.get("requested_top_up") is None:
            raise ValidationError(
                {"requested_top_up": ["Give `requested_top_up` or `wants_maximum: true`."]}
            )
        return attrs

    def request_input(self) -> services.RequestInput:
        data = self.validated_data
        return services.RequestInput(
            exposure=data["exposure"],
            primary_amount=data.get("primary_amount"),
            primary_percent=data.get("primary_percent"),
            requested_top_up=data.get("requested_top_up"),
            wants_maximum=data["wants_maximum"],
            credit_term_days=data["credit_term_days"],
        )


class LimitsSerializer(serializers.Serializer):
    max_top_up = serializers.DecimalField(**MONEY)
    primary_amount = serializers.DecimalField(**MONEY)
    rule = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    breach = serializers.DictField(allow_null=True)


class DecideSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=DecisionOutcome.choices)
    amount = serializers.DecimalField(**MONEY, min_value=0, required=False, allow_null=True)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_until = serializers.DateField(required=False, allow_null=True)
    rationale = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=NOTE_MAX_LENGTH,
        help_text="Internal note (insurer only).",
    )
    client_message = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=NOTE_MAX_LENGTH,
        help_text="Shown to the policyholder.",
    )


class CountersignSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
    )


class AssignSerializer(serializers.Serializer):
    arbiter = serializers.IntegerField(allow_null=True, help_text="User id; null unassigns.")


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
    )


class ResumeSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class GuaranteeSerializer(serializers.ModelSerializer):
    buyer = BuyerSerializer()
    valid_from = serializers.SerializerMethodField()
    valid_until = serializers.SerializerMethodField()
    total_cover = serializers.SerializerMethodField()

    class Meta:
        model = Guarantee
        fields = [
            "id",
            "policyholder",
            "contract",
            "buyer",
            "amount",
            "primary_amount",
            "total_cover",
            "exposure",
            "valid_from",
            "valid_until",
            "change",
            "created_at",
            "note",
            "decision",
        ]

    def get_valid_from(self, obj: Guarantee) -> str | None:
        return obj.period.lower.isoformat() if obj.period.lower else None

    def get_valid_until(self, obj: Guarantee) -> str | None:
        """Inclusive last day, or null when open-ended."""

        return (obj.period.upper - timedelta(days=1)).isoformat() if obj.period.upper else None

    def get_total_cover(self, obj: Guarantee) -> str:
        return str(money(obj.amount + obj.primary_amount))


class GuaranteeReduceSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY, min_value=0)
    effective_on = serializers.DateField()
    reason = serializers.CharField(max_length=NOTE_MAX_LENGTH)


class GuaranteeCancelSerializer(serializers.Serializer):
    effective_on = serializers.DateField()
    reason = serializers.CharField(max_length=NOTE_MAX_LENGTH)


class PrimaryReportSerializer(serializers.Serializer):
    contract = serializers.UUIDField(required=False)
    buyer = serializers.UUIDField()
    primary_amount = serializers.DecimalField(**MONEY, min_value=0)
    effective_on = serializers.DateField()
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
    )


class CoverageSerializer(serializers.Serializer):
    contract = serializers.UUIDField(source="contract.pk")
    buyer = serializers.UUIDField(source="buyer.pk")
    on = serializers.DateField()
    primary = serializers.DecimalField(**MONEY)
    top_up = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    exposure = serializers.DecimalField(**MONEY, allow_null=True)
    outstanding = serializers.DecimalField(**MONEY)
    order_amount = serializers.DecimalField(**MONEY)
    headroom = serializers.DecimalField(**MONEY)
    fits = serializers.BooleanField()
    valid_until = serializers.DateField(allow_null=True)


class BuyerQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=SEARCH_MAX_LENGTH,
        help_text="A SIREN, SIRET or VAT number, or part of a name (none: no buyer).",
    )


class CoverageQuerySerializer(serializers.Serializer):
    contract = serializers.UUIDField(required=False)
    buyer = serializers.UUIDField()
    order_amount = serializers.DecimalField(**MONEY, min_value=0)
    outstanding = serializers.DecimalField(
        **MONEY, min_value=0, required=False, default=Decimal("0")
    )

"""Serializers of the studies API: what goes in and out of /api/v1/studies/ (the study, its
lines and their verdicts, the report, and the inputs of each action)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from portal.text_limits import NOTE_MAX_LENGTH
from studies.models import LineVerdict, Study, StudyLine
from studies.selectors import SORTS, LineFilters, study_progress
from studies.services import ProspectInput
from underwriting.models import MONEY, Contract

# The API refuses a buyer list above this size before reading it (the parser's own limit too).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
ADDRESS_MAX_LENGTH = 500


# --- out ------------------------------------------------------------------------------------


class StudyContractSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    status = serializers.CharField()


class StudyPolicyholderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    analysed = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()
    done = serializers.BooleanField()


class StudySerializer(serializers.ModelSerializer):
    contract = StudyContractSerializer()
    policyholder = StudyPolicyholderSerializer()
    status_label = serializers.CharField(source="get_status_display")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = [
            "id",
            "status",
            "status_label",
            "policyholder",
            "contract",
            "is_prospect",
            "broker",
            "file_name",
            "file_kind",
            "lines_total",
            "lines_analysed",
            "lines_accepted",
            "lines_refused",
            "progress",
            "total_top_up",
            "created_at",
            "uploaded_at",
            "submitted_at",
            "finalised_at",
            "expires_on",
            "answered_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj: Study) -> dict[str, Any]:
        return study_progress(obj)


class LineErrorSerializer(serializers.Serializer):
    column = serializers.CharField(help_text="The column as the file's header names it.")
    value = serializers.CharField(help_text="The cell as the file gives it.")
    problem = serializers.CharField()
    message = serializers.CharField(help_text="The line, the column, what is wrong and the fix.")


class StudyLineSerializer(serializers.ModelSerializer):
    max = serializers.DecimalField(source="max_top_up", **MONEY, allow_null=True)
    proposal = serializers.DecimalField(source="proposed_top_up", **MONEY, allow_null=True)
    reason = serializers.CharField(source="proposal_reason")
    adjustment = serializers.DecimalField(source="adjusted_top_up", **MONEY, allow_null=True)
    top_up = serializers.DecimalField(
        source="final_top_up", **MONEY, help_text="The adjustment if any, else the proposal."
    )

    class Meta:
        model = StudyLine
        fields = [
            "id",
            "line_number",
            "identifier",
            "name",
            "exposure",
            "primary_amount",
            "requested_top_up",
            "verdict",
            "errors",
            "buyer",
            "grade",
            "max",
            "proposal",
            "reason",
            "adjustment",
            "adjustment_reason",
            "top_up",
        ]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        # `errors` names a Serializer attribute: the typed field is put in here, not declared.
        fields = super().get_fields()
        fields["errors"] = LineErrorSerializer(many=True, read_only=True)
        return fields


class ReportLineSerializer(serializers.Serializer):
    line_number = serializers.IntegerField(source="line.line_number")
    identifier = serializers.CharField(source="line.identifier")
    name = serializers.CharField(source="line.name")
    buyer = serializers.UUIDField(source="line.buyer_id", allow_null=True)
    exposure = serializers.DecimalField(source="line.exposure", **MONEY, allow_null=True)
    primary_amount = serializers.DecimalField(
        source="line.primary_amount", **MONEY, allow_null=True
    )
    top_up = serializers.DecimalField(**MONEY)
    cover = serializers.DecimalField(**MONEY)
    premium = serializers.DecimalField(**MONEY, help_text="Estimated monthly premium.")


class ReportTotalsSerializer(serializers.Serializer):
    exposure = serializers.DecimalField(**MONEY)
    primary = serializers.DecimalField(**MONEY)
    top_up = serializers.DecimalField(**MONEY)
    cover = serializers.DecimalField(**MONEY)
    refused = serializers.IntegerField(help_text="Lines refused (not in the report).")


class ReportTermsSerializer(serializers.ModelSerializer):
    """The contract terms the report states (the rate is monthly: 0.0012 = 0.12 %/month)."""

    # Plain text: the contract status enum stays named after the contracts API alone.
    status = serializers.CharField(read_only=True)
    premium_basis = serializers.CharField(read_only=True)

    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "status",
            "primary_insurer_name",
            "primary_policy_number",
            "monthly_rate",
            "premium_basis",
            "insured_percentage",
            "waiting_period_days",
            "max_credit_term_days",
            "top_up_multiple",
            "minimum_premium",
            "tax_rate",
        ]
        read_only_fields = fields


class ReportPremiumSerializer(serializers.Serializer):
    premium_total = serializers.DecimalField(**MONEY)
    minimum_adjustment = serializers.DecimalField(**MONEY)
    tax_amount = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY, help_text="Estimated monthly premium, tax included.")


class ReportSerializer(serializers.Serializer):
    """`studies.selectors.Report`: per buyer line, the totals, the terms and the premium."""

    study = serializers.UUIDField(source="study.pk")
    status = serializers.CharField(source="study.status")
    expires_on = serializers.DateField(source="study.expires_on", allow_null=True)
    lines = ReportLineSerializer(many=True)
    totals = serializers.SerializerMethodField()
    contract = ReportTermsSerializer()
    premium = ReportPremiumSerializer()

    @extend_schema_field(ReportTotalsSerializer)
    def get_totals(self, obj: Any) -> dict[str, Any]:
        return dict(ReportTotalsSerializer(obj).data)


# --- in -------------------------------------------------------------------------------------


class LineQuerySerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=LineVerdict.choices, required=False)
    grade_min = serializers.IntegerField(min_value=0, max_value=10, required=False)
    grade_max = serializers.IntegerField(min_value=0, max_value=10, required=False)
    sort = serializers.ChoiceField(choices=sorted(SORTS), required=False, default="line")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("grade_min"), attrs.get("grade_max")
        if low is not None and high is not None and low > high:
            raise ValidationError({"grade_max": ["Must be at least grade_min."]})
        return attrs

    def filters(self) -> LineFilters:
        data = self.validated_data
        return LineFilters(
            verdict=data.get("verdict", ""),
            grade_min=data.get("grade_min"),
            grade_max=data.get("grade_max"),
            sort=data["sort"],
        )


class VerdictsQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "xlsx"], required=False, default="csv")


class StudyStartSerializer(serializers.Serializer):
    contract = serializers.UUIDField(help_text="A contract of a policyholder in your scope.")


class ProspectSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    siren = serializers.CharField(max_length=40, help_text="SIREN (or SIRET) of the prospect.")
    address = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=ADDRESS_MAX_LENGTH
    )
    contact_name = serializers.CharField(max_length=200)
    contact_email = serializers.EmailField()
    primary_insurer_name = serializers.CharField(max_length=120)
    primary_policy_number = serializers.CharField(max_length=60)

    def prospect_input(self) -> ProspectInput:
        return ProspectInput(**self.validated_data)


class StudyUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="The buyer list: CSV (`,` or `;`) or XLSX, at most 10 MB."
    )

    def validate_file(self, value: Any) -> Any:
        if value.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                f"The file is {value.size / 1024 / 1024:.1f} MB: the limit is 10 MB."
            )
        return value


class StudyLineAdjustSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY, min_value=0)
    reason = serializers.CharField(max_length=500)


class StudyCountersignSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
    )


class StudyDeclineSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
    )

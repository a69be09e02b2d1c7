"""Serializers of the monitoring API: health files given to the built-in provider (with their
rejected lines and progress) and the alert feed of the policyholders in scope."""

from __future__ import annotations

from rest_framework import serializers

from monitoring.common import DEFAULT_LIMITS, MB
from monitoring.models import (
    ASSESSMENT_MAX_LENGTH,
    AlertExposure,
    AlertRule,
    BuyerInsight,
    FileKind,
    HealthFile,
    Outlook,
)


class HealthFileUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=FileKind.choices,
        help_text="`bodacc`: BODACC `annonces-commerciales` notices (JSON lines or CSV with `;`); "
        "`grades`: grade changes (CSV: SIREN, date, grade 0–10, source).",
    )
    # An empty file reaches the service, which refuses it in the error body of every refusal.
    file = serializers.FileField(
        allow_empty_file=True,
        help_text=f"The file as the provider exports it, at most {DEFAULT_LIMITS.max_bytes // MB} "
        "MB. Above `MONITORING_ASYNC_BYTES` it is imported by a worker: follow `progress`.",
    )


class ProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The file's line number (1 is the first line).")
    reason = serializers.CharField(help_text="Why the record was skipped, in French.")


class HealthFileSerializer(serializers.ModelSerializer):
    # The choice set is documented once, on the upload (one enum per choice set in the schema).
    kind = serializers.CharField(read_only=True, help_text="`bodacc` or `grades`.")
    problems = ProblemSerializer(many=True, read_only=True)
    progress = serializers.IntegerField(
        read_only=True, help_text="Percentage of the records processed (100 once finished)."
    )

    class Meta:
        model = HealthFile
        fields = [
            "id",
            "provider",
            "kind",
            "name",
            "size",
            "sha256",
            "received_at",
            "status",
            "progress",
            "total",
            "stored",
            "records",
            "ignored",
            "unknown_buyers",
            "new_records",
            "alerts",
            "problems",
            "error",
            "finished_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "total": {"help_text": "Records read (kept, skipped for a problem, or ignored)."},
            "records": {"help_text": "Records on registry buyers."},
            "ignored": {"help_text": "Notices of another family than collective proceedings."},
            "unknown_buyers": {"help_text": "Records on buyers outside the registry (skipped)."},
            "new_records": {"help_text": "Records not received before (a re-import adds none)."},
            "alerts": {"help_text": "Alerts the import raised."},
            "error": {"help_text": "Why the whole file was refused (status `refused`)."},
        }


class AlertExposureSerializer(serializers.ModelSerializer):
    """One alert as one exposed policyholder received it."""

    id = serializers.UUIDField(source="alert_id", read_only=True)
    buyer = serializers.UUIDField(source="alert.buyer_id", read_only=True)
    buyer_name = serializers.CharField(source="alert.buyer.name", read_only=True)
    buyer_siren = serializers.CharField(source="alert.buyer.siren", read_only=True, allow_null=True)
    rule = serializers.ChoiceField(source="alert.rule", choices=AlertRule.choices, read_only=True)
    rules = serializers.ListField(
        source="alert.rules",
        child=serializers.CharField(),
        read_only=True,
        help_text="Every rule the fact meets, each a value of `rule` (a grade falling from 6 to "
        "3 meets two).",
    )
    occurred_on = serializers.DateField(source="alert.occurred_on", read_only=True)
    created_at = serializers.DateTimeField(source="alert.created_at", read_only=True)

    class Meta:
        model = AlertExposure
        fields = [
            "id",
            "buyer",
            "buyer_name",
            "buyer_siren",
            "rule",
            "rules",
            "occurred_on",
            "created_at",
            "policyholder",
            "top_up",
            "open_request",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "policyholder": {"help_text": "The exposed policyholder (brokers hold several)."},
            "top_up": {"help_text": "Its top-ups in force on the buyer when the alert was raised."},
            "open_request": {"help_text": "Whether it had an open request on the buyer then."},
        }


# --- expert insights on buyers --------------------------------------------------------------


class BuyerInsightSerializer(serializers.ModelSerializer):
    """An arbiter's insight on a buyer, as published (immutable)."""

    buyer_name = serializers.CharField(source="buyer.name", read_only=True)
    superseded = serializers.BooleanField(
        read_only=True, help_text="Whether a newer insight on the buyer replaced this one."
    )

    class Meta:
        model = BuyerInsight
        fields = [
            "id",
            "buyer",
            "buyer_name",
            "published_at",
            "assessment",
            "outlook",
            "recommended_min",
            "recommended_max",
            "supersedes",
            "superseded",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "recommended_min": {"help_text": "Recommended limit range, lower bound (EUR)."},
            "recommended_max": {"help_text": "Recommended limit range, upper bound (EUR)."},
            "supersedes": {"help_text": "The insight on the buyer this one replaced."},
        }


class BuyerInsightCreateSerializer(serializers.Serializer):
    """The rules (length, range) are the service's: its refusals name the field at fault."""

    buyer = serializers.UUIDField(help_text="The buyer of the registry (its id).")
    assessment = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"A short assessment, at most {ASSESSMENT_MAX_LENGTH} characters.",
    )
    outlook = serializers.ChoiceField(choices=Outlook.choices)
    recommended_min = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    recommended_max = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )

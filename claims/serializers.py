"""Serializers of the claims API: what goes in and out of /api/v1/claims/ (the declaration, its
invoices and documents; the waiting period, the primary's settlement and the indemnity with its
line-by-line computation, read from what the services stored)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from claims.invoices_csv import MAX_LINES, InvoiceData
from claims.models import (
    Claim,
    ClaimDocument,
    ClaimInvoice,
    ClaimMovement,
    Exclusion,
    WaitingReason,
)
from claims.services import claim_waiting_period
from claims.services.coverage import declaration_deadline
from portal.timeutils import business_today
from underwriting.models import MONEY
from underwriting.serializers import BuyerSerializer


def exclusion_label(code: str) -> str:
    """The plain-words reason an invoice is not covered (or that it is)."""
    return str(Exclusion(code).label) if code in Exclusion.values else code


# --- input ----------------------------------------------------------------------------------


class InvoiceInputSerializer(serializers.Serializer):
    """One unpaid invoice, as the declaration form and the CSV give it."""

    number = serializers.CharField(max_length=40)
    amount = serializers.DecimalField(**MONEY, help_text="Incl. tax, EUR, a decimal string.")
    invoice_date = serializers.DateField()
    delivery_date = serializers.DateField()
    due_date = serializers.DateField()


def invoice_data(data: dict[str, Any]) -> InvoiceData:
    return InvoiceData(
        number=data["number"].strip(),
        amount=data["amount"],
        invoice_date=data["invoice_date"],
        delivery_date=data["delivery_date"],
        due_date=data["due_date"],
    )


class DeclareSerializer(serializers.Serializer):
    contract = serializers.UUIDField(
        required=False,
        help_text="Defaults to the caller's active contract (wholesalers); a broker gives it.",
    )
    buyer = serializers.UUIDField(help_text="The buyer's id in the registry (`/api/v1/buyers/`).")
    invoices: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=InvoiceInputSerializer(), max_length=MAX_LINES
    )

    def invoices_data(self) -> list[InvoiceData]:
        return [invoice_data(item) for item in self.validated_data["invoices"]]


class InvoiceUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV (`,` or `;`, UTF-8 or Windows-1252), columns: numero; montant; "
        "date de facture; date de livraison; echeance (JJ/MM/AAAA), at most 2 MB."
    )


class DocumentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="PDF, PNG or JPEG, recognised by its content.")
    invoice = serializers.UUIDField(
        required=False, allow_null=True, help_text="The invoice of this claim it supports."
    )


# --- output ---------------------------------------------------------------------------------


class ClaimInvoiceSerializer(serializers.ModelSerializer):
    covered = serializers.SerializerMethodField()
    exclusion_label = serializers.SerializerMethodField()
    credit_term_days = serializers.IntegerField(read_only=True)
    declaration_deadline = serializers.SerializerMethodField()

    class Meta:
        model = ClaimInvoice
        fields = [
            "id",
            "number",
            "amount",
            "invoice_date",
            "delivery_date",
            "due_date",
            "credit_term_days",
            "declaration_deadline",
            "primary_limit",
            "top_up_limit",
            "covered",
            "exclusion",
            "exclusion_label",
            "declared_at",
        ]
        extra_kwargs = {
            "primary_limit": {"help_text": "The primary limit in force at the delivery date."},
            "top_up_limit": {"help_text": "The top-up in force at the delivery date."},
            "exclusion": {"help_text": "Empty when the top-up covers the invoice."},
        }

    def get_covered(self, obj: ClaimInvoice) -> bool:
        return not obj.exclusion

    def get_exclusion_label(self, obj: ClaimInvoice) -> str:
        return exclusion_label(obj.exclusion)

    def get_declaration_deadline(self, obj: ClaimInvoice) -> str:
        """The last day it could be declared: due date + the contract's declaration deadline."""
        return declaration_deadline(contract=obj.claim.contract, due_date=obj.due_date).isoformat()


class ClaimDocumentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ClaimDocument
        fields = ["id", "name", "content_type", "size", "sha256", "invoice", "uploaded_at", "url"]

    def get_url(self, obj: ClaimDocument) -> str:
        """The download, served through the claim's scope (never a storage path)."""
        path = reverse("claim_document", args=[obj.claim_id, obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ClaimMovementSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = ClaimMovement
        fields = ["id", "kind", "kind_label", "amount", "received_on", "due_back"]


class WaitingPeriodSerializer(serializers.Serializer):
    ends_on = serializers.DateField()
    ended = serializers.BooleanField()
    # A plain string: a second `reason` enum would rename the requests' one in the schema.
    reason = serializers.CharField(help_text="`due_date` or `proceedings`.")
    reason_label = serializers.CharField()
    judgment_on = serializers.DateField(allow_null=True)


class PrimarySettlementSerializer(serializers.Serializer):
    outcome = serializers.CharField(help_text="`` (pending), `paid` or `declined`.")
    outcome_label = serializers.CharField()
    amount = serializers.DecimalField(**MONEY, allow_null=True)
    settled_on = serializers.DateField(allow_null=True)
    note = serializers.CharField(allow_blank=True)


class ComputationLineSerializer(serializers.Serializer):
    number = serializers.CharField()
    delivery_date = serializers.DateField()
    amount = serializers.DecimalField(**MONEY)
    paid_by_buyer = serializers.DecimalField(**MONEY)
    unpaid = serializers.DecimalField(**MONEY)
    exclusion = serializers.CharField(allow_blank=True)
    exclusion_label = serializers.SerializerMethodField()
    loss_before = serializers.DecimalField(**MONEY, help_text="Running loss before it.")
    loss_after = serializers.DecimalField(**MONEY)
    layer_from = serializers.DecimalField(**MONEY, help_text="P at its delivery date.")
    layer_to = serializers.DecimalField(**MONEY, help_text="P + T at its delivery date.")
    top_up_part = serializers.DecimalField(
        **MONEY, help_text="Length of [loss before, loss after] ∩ [P, P + T]."
    )
    insured_part = serializers.CharField(help_text="q × top-up part, before rounding.")

    def get_exclusion_label(self, obj: dict[str, Any]) -> str:
        return exclusion_label(obj.get("exclusion", ""))


class ComputationSerializer(serializers.Serializer):
    """The layered rule of DESIGN §4, as computed: q × Σ top-up parts, rounded half up."""

    insured_percentage = serializers.DecimalField(max_digits=5, decimal_places=4)
    buyer_payments = serializers.DecimalField(**MONEY)
    loss = serializers.DecimalField(**MONEY)
    top_up_parts = serializers.DecimalField(**MONEY)
    exact = serializers.CharField(help_text="q × Σ top-up parts, before rounding.")
    amount = serializers.DecimalField(**MONEY, help_text="The indemnity, rounded half up.")
    rounding = serializers.CharField(help_text="amount − exact.")
    lines = ComputationLineSerializer(many=True)


class ClaimSerializer(serializers.ModelSerializer):
    """A claim in a list: the figures without the invoices."""

    status_label = serializers.CharField(source="get_status_display", read_only=True)
    contract_number = serializers.CharField(source="contract.number", read_only=True)
    buyer = BuyerSerializer(read_only=True)
    invoice_count = serializers.IntegerField(read_only=True)
    amount_declared = serializers.DecimalField(**MONEY, read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "number",
            "policyholder",
            "contract",
            "contract_number",
            "buyer",
            "status",
            "status_label",
            "declared_at",
            "invoice_count",
            "amount_declared",
            "indemnity",
            "paid_on",
        ]


class ClaimDetailSerializer(ClaimSerializer):
    """The claim with its invoices, the waiting period, the primary's settlement, the
    indemnity and its computation, the buyer's payments and recoveries, the documents."""

    invoices = ClaimInvoiceSerializer(many=True, read_only=True)
    waiting_period = serializers.SerializerMethodField()
    primary_settlement = serializers.SerializerMethodField()
    computation = serializers.SerializerMethodField()
    movements = ClaimMovementSerializer(many=True, read_only=True)
    documents = ClaimDocumentSerializer(many=True, read_only=True)

    class Meta(ClaimSerializer.Meta):
        fields = [
            *ClaimSerializer.Meta.fields,
            "invoices",
            "waiting_period",
            "primary_settlement",
            "computed_at",
            "computation",
            "approved_at",
            "payment_reference",
            "due_back",
            "decline_reason",
            "closed_at",
            "movements",
            "documents",
        ]

    @extend_schema_field(WaitingPeriodSerializer(allow_null=True))
    def get_waiting_period(self, obj: Claim) -> dict[str, Any] | None:
        """When the top-up may be computed: earliest due date + the contract's waiting period,
        or at once when collective proceedings opened on the buyer."""
        waiting = claim_waiting_period(obj)
        if waiting is None:
            return None
        return {
            "ends_on": waiting.ends_on,
            "ended": waiting.ends_on <= business_today(),
            "reason": waiting.reason,
            "reason_label": str(WaitingReason(waiting.reason).label),
            "judgment_on": waiting.judgment_on,
        }

    @extend_schema_field(PrimarySettlementSerializer)
    def get_primary_settlement(self, obj: Claim) -> dict[str, Any]:
        return PrimarySettlementSerializer(
            {
                "outcome": obj.primary_outcome,
                "outcome_label": obj.get_primary_outcome_display(),
                "amount": obj.primary_paid,
                "settled_on": obj.primary_settled_on,
                "note": obj.primary_note,
            }
        ).data

    @extend_schema_field(ComputationSerializer(allow_null=True))
    def get_computation(self, obj: Claim) -> dict[str, Any] | None:
        """Line by line, once the handler computed the indemnity (null before)."""
        if not obj.computation:
            return None
        return ComputationSerializer(obj.computation).data

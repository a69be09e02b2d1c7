"""Billing API: invoices and credit notes (list, detail, PDF, CSV export), credit notes and
billing runs for finance ops. Callers who may not see invoices get empty lists and 404s."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from billing import selectors, services
from billing.exports import invoice_csv_response
from billing.filters import InvoiceFilter
from billing.models import (
    BillingRun,
    BillingRunTrigger,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentStatus,
)
from billing.premium import parse_month
from portal import policy
from portal.api_base import ScopedGenericViewSet, ScopedReadOnlyViewSet, api_user


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "buyer",
            "buyer_name",
            "buyer_identifier",
            "label",
            "base",
            "amount_days",
            "days_in_force",
            "rate",
            "premium",
        ]


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "received_on", "amount", "reference", "source", "created_at"]


class PaymentCreateSerializer(serializers.Serializer):
    """A payment received on the invoice (insurer finance ops). More than the balance due is
    refused (409 on `amount`), as is a date in the future (400 on `received_on`)."""

    received_on = serializers.DateField()
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="EUR received, positive, at most the balance."
    )
    reference = serializers.CharField(max_length=140, required=False, allow_blank=True, default="")


_MONEY_READ: dict[str, Any] = {"max_digits": 14, "decimal_places": 2, "read_only": True}


class InvoiceSerializer(serializers.ModelSerializer):
    credits_number = serializers.CharField(source="credits.number", default=None, allow_null=True)
    paid = serializers.DecimalField(**_MONEY_READ, help_text="Payments received (EUR).")
    balance = serializers.DecimalField(
        **_MONEY_READ, help_text="Total − credit notes − payments (0 for a credit note)."
    )
    payment_status = serializers.ChoiceField(
        choices=[("", "credit note"), *PaymentStatus.choices], read_only=True
    )
    overdue = serializers.BooleanField(
        read_only=True, help_text="A balance is left after the due date."
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "kind",
            "policyholder",
            "contract",
            "contract_number",
            "month",
            "issued_at",
            "issued_on",
            "due_on",
            "credits",
            "credits_number",
            "reason",
            "policyholder_name",
            "policyholder_siren",
            "insurer_name",
            "premium_basis",
            "monthly_rate",
            "days_in_month",
            "premium_total",
            "minimum_adjustment",
            "tax_rate",
            "tax_amount",
            "total",
            "paid",
            "balance",
            "payment_status",
            "overdue",
        ]


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines", "payments"]


class CreditNoteSerializer(serializers.Serializer):
    """Exactly one of `full: true` and `amount`: that explicit choice is the confirmation (the
    pages ask for one more click, the API does not). Neither or both: 400 naming `amount`."""

    full = serializers.BooleanField(
        required=False,
        default=False,
        help_text=(
            "true: credit the whole invoice, line by line (only if nothing was credited yet). "
            "Give either this or `amount`: the explicit choice is the confirmation, the credit "
            "note is issued at once."
        ),
    )
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text=(
            "Premium before tax to credit (positive, EUR); the invoice's tax rate is added. "
            "Required unless `full` is true; the credits never exceed the invoice total."
        ),
    )
    reason = serializers.CharField(max_length=500)


class InvoiceViewSet(ScopedReadOnlyViewSet):
    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    filtered_actions = ("list", "export")

    def scoped_queryset(self) -> QuerySet[Any]:
        if not policy.can_see_invoices(self.request.user):
            return Invoice.objects.none()
        invoices = selectors.with_balance(selectors.invoices_visible())
        if self.action == "retrieve":
            invoices = invoices.prefetch_related("lines", "payments")
        return invoices

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return InvoiceDetailSerializer if self.action == "retrieve" else InvoiceSerializer

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def pdf(self, request: Request, pk: str | None = None) -> HttpResponse:
        invoice = self.get_object()
        pdf = services.invoice_pdf_store(invoice=invoice)
        response = HttpResponse(bytes(pdf.content), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        response["ETag"] = f'"{pdf.sha256}"'
        return response

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, filters=True)
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        invoices = list(self.filter_queryset(self.get_queryset()).order_by("year", "sequence"))
        return invoice_csv_response(invoices, filename="factures.csv")

    @extend_schema(request=CreditNoteSerializer, responses={201: InvoiceDetailSerializer})
    @action(detail=True, methods=["post"], url_path="credit-note")
    def credit_note(self, request: Request, pk: str | None = None) -> Response:
        if not policy.can_issue_credit_note(request.user):
            raise NotFound
        invoice = self.get_object()
        payload = CreditNoteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        note = services.credit_note_issue(
            invoice=invoice,
            full=payload.validated_data["full"],
            amount=payload.validated_data.get("amount"),
            reason=payload.validated_data["reason"],
            actor=api_user(request),
        )
        note = selectors.invoice_with_balance(invoice_id=note.pk)
        return Response(InvoiceDetailSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], request=None, responses={200: PaymentSerializer(many=True)})
    @extend_schema(
        methods=["POST"], request=PaymentCreateSerializer, responses={201: PaymentSerializer}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def payments(self, request: Request, pk: str | None = None) -> Response:
        """The payments received on the invoice; POST records one (insurer finance ops)."""
        invoice = self.get_object()
        if request.method == "GET":
            return Response(PaymentSerializer(selectors.payments_of(invoice), many=True).data)
        if not policy.can_record_payments(request.user):
            raise NotFound
        payload = PaymentCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payment = services.payment_record(
            invoice=invoice,
            received_on=payload.validated_data["received_on"],
            amount=payload.validated_data["amount"],
            reference=payload.validated_data["reference"],
            actor=api_user(request),
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class BillingRunSerializer(serializers.ModelSerializer):
    month = serializers.CharField(help_text="YYYY-MM")

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "month",
            "trigger",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "total",
            "issued",
            "skipped",
            "failed",
            "error",
        ]
        read_only_fields = [name for name in fields if name != "month"]

    def to_representation(self, instance: BillingRun) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["month"] = f"{instance.month:%Y-%m}"
        return data


class BillingRunViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ScopedGenericViewSet,
):
    """Billing runs are insurer-wide: finance ops only; anybody else sees none."""

    serializer_class = BillingRunSerializer

    def scoped_queryset(self) -> QuerySet[Any]:
        if not policy.can_run_billing(self.request.user):
            return BillingRun.objects.none()
        return BillingRun.objects.all()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not policy.can_run_billing(request.user):
            raise NotFound
        payload = BillingRunSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        run = services.billing_run_start(
            month=parse_month(payload.validated_data["month"]),
            trigger=BillingRunTrigger.API,
            actor=api_user(request),
        )
        return Response(BillingRunSerializer(run).data, status=status.HTTP_201_CREATED)


def register(router: BaseRouter) -> None:
    """Register this app's viewsets on the /api/v1/ router."""
    router.register("invoices", InvoiceViewSet, basename="invoice")
    router.register("billing-runs", BillingRunViewSet, basename="billingrun")

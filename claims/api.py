"""Claims API under /api/v1/claims/: the claims in the caller's scope, the declaration (typed, or
invoices added from a CSV), supporting documents. Same services, same scope as the pages.

- Reading: every user of a policyholder, its brokers with a current mandate, insurer staff,
  each within their scope; another tenant's claim is a 404 on every route.
- Writing: what `claims.services` allow (DESIGN §3: "declare a claim, add invoices and
  documents"; the claims handler may add documents too). A user who may not act gets 404, as
  on the pages (`portal.api_base.api_require`), and so does a claim outside the scope.
- Domain errors are `{code, detail, field}` (`portal.api_errors`), the field naming the invoice
  at fault: `invoices[1].due_date`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db.models import Count, DecimalField, Prefetch, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import ListSerializer

from claims import services
from claims.filters import ClaimFilter
from claims.invoices_csv import MAX_BYTES, MAX_LINES
from claims.models import Claim, ClaimInvoice
from claims.serializers import (
    ClaimDetailSerializer,
    ClaimDocumentSerializer,
    ClaimInvoiceSerializer,
    ClaimSerializer,
    DeclareSerializer,
    DocumentUploadSerializer,
    InvoiceInputSerializer,
    InvoiceUploadSerializer,
    invoice_data,
)
from portal import policy
from portal.api_base import ScopedReadOnlyViewSet, api_require, api_user
from portal.errors import RuleViolation
from portal.models import OrganisationKind, User
from underwriting import selectors as underwriting_selectors
from underwriting.models import Buyer, Contract

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="A retried declaration with the same key returns the first claim (200, "
    "`Idempotent-Replayed: true`) instead of declaring again; the same key with another body "
    "is a 409.",
)


def _contract_for(user: User, contract_id: Any) -> Contract:
    """The contract named (within the scope), or the wholesaler's active contract."""
    if contract_id:
        contract = Contract.objects.select_related("policyholder").filter(pk=contract_id).first()
        if contract is None:
            raise RuleViolation(_("Contrat inconnu."), field="contract")
        return contract
    organisation = user.organisation
    if organisation is not None and organisation.kind == OrganisationKind.POLICYHOLDER:
        contract = underwriting_selectors.active_contract_for(policyholder_id=organisation.pk)
        if contract is not None:
            return contract
        raise RuleViolation(_("Aucun contrat actif : indiquez le contrat."), field="contract")
    raise RuleViolation(_("Indiquez le contrat du client (`contract`)."), field="contract")


def _buyer(buyer_id: Any) -> Buyer:
    buyer = Buyer.objects.filter(pk=buyer_id).first()
    if buyer is None:
        raise RuleViolation(
            _("Acheteur inconnu : cherchez-le ou ajoutez-le avec /api/v1/buyers/."),
            field="buyer",
        )
    return buyer


@extend_schema_view(
    retrieve=extend_schema(responses=ClaimDetailSerializer),
)
class ClaimViewSet(ScopedReadOnlyViewSet):
    """Claims on unpaid invoices. Filters: `status`, `buyer`, `contract` (a bad value is a 400
    naming the parameter). Latest declared first."""

    serializer_class = ClaimSerializer
    filterset_class = ClaimFilter

    def get_serializer_class(self) -> type[ClaimSerializer]:
        return ClaimSerializer if self.action == "list" else ClaimDetailSerializer

    def scoped_queryset(self) -> QuerySet[Any]:
        claims = Claim.objects.select_related("contract", "buyer").annotate(
            invoice_count=Count("invoices"),
            amount_declared=Coalesce(
                Sum("invoices__amount"), Value(0), output_field=DecimalField()
            ),
        )
        if self.action != "list":
            return claims.prefetch_related(
                Prefetch("invoices", ClaimInvoice.objects.select_related("claim__contract")),
                "movements",
                "documents",
            )
        return claims.order_by("-declared_at", "id")

    def _detail(self, claim_id: Any, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=claim_id)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(
        request=DeclareSerializer,
        responses={
            201: ClaimDetailSerializer,
            200: OpenApiResponse(ClaimDetailSerializer, description="Replayed (Idempotency-Key)."),
        },
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request: Request) -> Response:
        """Declare unpaid invoices on one buyer under one contract. Refused as a whole, naming
        the invoice and field at fault (`invoices[0].due_date`: declared after the deadline,
        with the date it was due); an invoice already declared on this buyer is a 409."""
        user = api_user(request)
        api_require(policy.can_declare_claims(user))
        payload = DeclareSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        contract = _contract_for(user, data.get("contract"))
        buyer = _buyer(data["buyer"])
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 100:
            raise RuleViolation(_("100 caractères au plus."), field="Idempotency-Key")
        fingerprint = hashlib.sha256(
            json.dumps(request.data, sort_keys=True, default=str).encode()
        ).hexdigest()
        claim, created = services.claim_declare_once(
            contract=contract,
            buyer=buyer,
            invoices=payload.invoices_data(),
            actor=user,
            idempotency_key=key,
            fingerprint=fingerprint if key else "",
        )
        if created:
            return self._detail(claim.pk, status.HTTP_201_CREATED)
        response = self._detail(claim.pk)
        response["Idempotent-Replayed"] = "true"
        return response

    @extend_schema(
        request=InvoiceInputSerializer(many=True),
        responses={201: ClaimInvoiceSerializer(many=True)},
    )
    @action(detail=True, methods=["post"])
    def invoices(self, request: Request, pk: str | None = None) -> Response:
        """Add invoices to a claim still declared or in recovery: a JSON list of invoices (or
        `{"invoices": [...]}`), checked as a whole like the declaration."""
        user = api_user(request)
        claim = self.get_object()
        api_require(policy.can_declare_claims(user))
        body = request.data
        if isinstance(body, dict) and "invoices" in body:
            body = body["invoices"]  # the declaration's shape is accepted too
        payload: ListSerializer[Any] = ListSerializer(
            child=InvoiceInputSerializer(), data=body, max_length=MAX_LINES
        )
        payload.is_valid(raise_exception=True)
        added = services.claim_invoices_add(
            claim_id=claim.pk,
            invoices=[invoice_data(item) for item in payload.validated_data],
            actor=user,
        )
        return self._invoices(added)

    def _invoices(self, added: Any) -> Response:
        rows = ClaimInvoice.objects.select_related("claim__contract").filter(
            pk__in=[row.pk for row in added]
        )
        return Response(
            ClaimInvoiceSerializer(rows, many=True).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        request={"multipart/form-data": InvoiceUploadSerializer},
        responses={
            201: ClaimInvoiceSerializer(many=True),
            400: OpenApiResponse(
                description="A line is wrong: nothing added; `lines` gives every line's "
                "verdict as `{line, number, errors}` (line 1 is the header)."
            ),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="invoices/upload",
        url_name="invoices-upload",
        parser_classes=[MultiPartParser],
    )
    def upload(self, request: Request, pk: str | None = None) -> Response:
        """Add the invoices of a CSV: all of them when every line is right, none otherwise."""
        user = api_user(request)
        claim = self.get_object()
        api_require(policy.can_declare_claims(user))
        payload = InvoiceUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        # One byte over the limit is enough for the reader to refuse it, naming the limit.
        content = payload.validated_data["file"].read(MAX_BYTES + 1)
        result = services.claim_invoices_upload(claim_id=claim.pk, content=content, actor=user)
        if not result.accepted:
            wrong = sum(1 for line in result.lines if not line.accepted)
            raise RuleViolation(
                _("%(count)s ligne(s) à corriger : rien n'a été ajouté.") % {"count": wrong},
                field="file",
                code="invoice_lines",
                lines=[
                    {
                        "line": line.line,
                        "number": line.invoice.number if line.invoice else None,
                        "errors": list(line.errors),
                    }
                    for line in result.lines
                ],
            )
        return self._invoices(result.added)

    @extend_schema(
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={201: ClaimDocumentSerializer},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def documents(self, request: Request, pk: str | None = None) -> Response:
        """Attach a supporting document (PDF, PNG or JPEG, checked by its content; size
        limited), optionally to one invoice of the claim."""
        user = api_user(request)
        claim = self.get_object()
        api_require(policy.can_declare_claims(user) or policy.can_handle_claims(user))
        payload = DocumentUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        document = services.claim_document_add(
            claim_id=claim.pk,
            name=upload.name or "",
            # One byte over the limit is enough for the service to refuse it, naming the limit.
            content=upload.read(settings.CLAIM_DOCUMENT_MAX_BYTES + 1),
            invoice_id=payload.validated_data.get("invoice"),
            actor=user,
        )
        return Response(
            ClaimDocumentSerializer(document, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


def register(router: BaseRouter) -> None:
    router.register("claims", ClaimViewSet, basename="claim")

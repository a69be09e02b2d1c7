"""The order-time coverage check, `GET /api/v1/coverage/`: an ERP calls it for every order.

Two paths give the same answers. The lean one (`lean_coverage`, called by
`portal.middleware.LeanAPIMiddleware` before the page and session middleware) serves the usual
call (a token, well-formed amounts and ids, JSON wanted, a contract and a buyer that exist):
the token and the cover in one prepared statement (two on a connection's first call, whose
scope setting is not yet the token's), the answer written as JSON by hand. Anything else (a
session, a bad token or parameter, an unknown contract or buyer, the browsable API, HEAD or
OPTIONS) goes through DRF, whose errors and content negotiation every other endpoint uses;
`tests/underwriting/test_coverage_paths.py` compares the two paths and the pages' own check.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import AuthenticationFailed, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from portal import policy
from portal.api_base import ScopedGenericViewSet, api_user
from portal.authentication import token_check, token_digest
from portal.money import CENT, ZERO, money
from portal.tenancy import policyholder_scope_for, tenant_scope
from portal.timeutils import business_today
from underwriting import selectors
from underwriting.models import Guarantee
from underwriting.serializers import CoverageQuerySerializer, CoverageSerializer

# What the lean path accepts without the serializer: amounts of at most 12 digits and 2
# decimals (MONEY: 14 digits, 2 of them decimals), as the serializer would accept them.
_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,2})?")
_PARAMETERS = frozenset({"buyer", "contract", "order_amount", "outstanding"})
_JSON = frozenset({"", "*/*", "application/json"})


class CoverageViewSet(ScopedGenericViewSet):
    """Order-time check: primary, top-up and total cover today, and whether the order fits."""

    serializer_class = CoverageSerializer
    pagination_class = None

    def scoped_queryset(self) -> QuerySet[Any]:
        return Guarantee.objects.none()

    @extend_schema(parameters=[CoverageQuerySerializer], responses=CoverageSerializer)
    def list(self, request: Request) -> Response:
        user = api_user(request)
        if not policy.can_see_cover(user):
            raise NotFound
        query = CoverageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        on = business_today()
        cover = selectors.cover_in_force(
            buyer_id=data["buyer"],
            contract_id=data.get("contract"),
            policyholder_id=user.organisation_id,
            on=on,
        )
        # The answers, and their precedence, of the contract and buyer lookups of the pages.
        if cover.contract_id is None:
            message = "Unknown contract." if data.get("contract") else "This field is required."
            raise ValidationError({"contract": [message]})
        if not cover.buyer_exists:
            raise ValidationError({"buyer": ["Unknown buyer."]})
        answer = coverage_answer(
            cover,
            buyer_id=data["buyer"],
            order_amount=data["order_amount"],
            outstanding=data["outstanding"],
            on=on,
        )
        return Response(answer)


def _amount(value: str | None, *, default: Decimal | None = None) -> Decimal | None:
    if value is None:
        return default
    return Decimal(value).quantize(CENT) if _AMOUNT.fullmatch(value) else None


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def lean_coverage(request: HttpRequest) -> HttpResponse | None:
    """The usual call answered without DRF; None hands the request to DRF."""
    if request.method != "GET" or request.META.get("HTTP_ACCEPT", "") not in _JSON:
        return None
    query = request.GET
    if not _PARAMETERS.issuperset(query):  # `format` and the like: DRF's content negotiation
        return None
    buyer_id = _uuid(query.get("buyer"))
    contract_id = _uuid(query.get("contract"))
    order_amount = _amount(query.get("order_amount"))
    outstanding = _amount(query.get("outstanding"), default=ZERO)
    if buyer_id is None or order_amount is None or outstanding is None:
        return None
    if "contract" in query and contract_id is None:
        return None
    on = business_today()
    try:
        digest = token_digest(request)
        if digest is None:  # no token: a session, which DRF checks with its CSRF rules
            return None
        # The token, and the cover read in the same statement when it can be (an ERP's calls
        # after its first on a connection): one round trip.
        found = selectors.cover_in_force_with_token(
            digest=digest, buyer_id=buyer_id, contract_id=contract_id, on=on
        )
        if found is None:
            return None
        user, token, cover = found
        token_check(user, token)
    except AuthenticationFailed:
        return None
    if not policy.can_see_cover(user):
        return None
    request.user = user  # as DRF does, for what runs after the view
    if cover is None:
        with tenant_scope(policyholder_scope_for(user)):
            cover = selectors.cover_in_force(
                buyer_id=buyer_id,
                contract_id=contract_id,
                policyholder_id=user.organisation_id,
                on=on,
            )
    if cover.contract_id is None or not cover.buyer_exists:
        return None
    answer = coverage_answer(
        cover, buyer_id=buyer_id, order_amount=order_amount, outstanding=outstanding, on=on
    )
    response = HttpResponse(
        json.dumps(answer, separators=(",", ":")), content_type="application/json"
    )
    # DRF's headers on the same answer.
    response["Vary"] = "Accept"
    response["Allow"] = "GET, HEAD, OPTIONS"
    return response


def _cents(amount: Decimal) -> str:
    """A money amount as the serializers write it: a string with two decimals."""
    return f"{amount.quantize(CENT):f}"


def coverage_answer(
    cover: selectors.CoverInForce,
    *,
    buyer_id: UUID,
    order_amount: Decimal,
    outstanding: Decimal,
    on: date,
) -> dict[str, Any]:
    """`CoverageSerializer`'s fields in its order, written by hand (the schema keeps the
    serializer)."""
    total = money(cover.primary + cover.top_up)
    headroom = money(total - outstanding - order_amount)
    return {
        "contract": str(cover.contract_id),
        "buyer": str(buyer_id),
        "on": on.isoformat(),
        "primary": _cents(cover.primary),
        "top_up": _cents(cover.top_up),
        "total": _cents(total),
        "exposure": None if cover.exposure is None else _cents(cover.exposure),
        "outstanding": _cents(outstanding),
        "order_amount": _cents(order_amount),
        "headroom": _cents(headroom),
        "fits": total > 0 and headroom >= 0,
        "valid_until": cover.valid_until.isoformat() if cover.valid_until else None,
    }

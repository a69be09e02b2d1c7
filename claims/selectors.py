"""Reads for claims, within the active scope: pages and the API call the same functions.

The policyholder's side: the list (with its totals) and everything the claim page shows, in a
fixed number of queries whatever the number of invoices, documents or events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from claims.events import ClaimEvent
from claims.indemnity import Indemnity
from claims.models import (
    OPEN_CLAIM_STATUSES,
    Claim,
    ClaimDocument,
    ClaimInvoice,
    ClaimMovement,
    ClaimStatus,
    Exclusion,
    MoneyMovementKind,
    WaitingReason,
)
from claims.services.coverage import WaitingPeriod, declaration_deadline, waiting_period
from claims.services.handling import claim_computation
from portal import policy
from portal.models import AuditEvent, OrganisationKind, User
from underwriting.models import Buyer, Contract, ContractStatus

ZERO = Decimal("0")
CLAIM_OBJECT_TYPE = Claim._meta.label


def _money_sum(field: str) -> Coalesce:
    return Coalesce(
        Sum(field), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2)
    )


def claims_visible() -> QuerySet[Claim]:
    """The claims of the active scope, newest first, each with its invoice count and total."""
    return (
        Claim.objects.select_related("contract", "buyer", "policyholder")
        .annotate(invoice_count=Count("invoices"), invoice_total=_money_sum("invoices__amount"))
        .order_by("-declared_at")
    )


@dataclass(frozen=True)
class ClaimFilters:
    query: str = ""
    status: str = ""


def claims_filtered(filters: ClaimFilters) -> QuerySet[Claim]:
    """The list's search (claim number, buyer name or identifier, invoice number) and status."""
    claims = claims_visible()
    if filters.status:
        claims = claims.filter(status=filters.status)
    return claims_matching(claims, query=filters.query)


def claims_matching(claims: QuerySet[Claim], *, query: str) -> QuerySet[Claim]:
    """The claims among `claims` whose number or buyer (name, SIREN, VAT number) contains
    `query`, or with an invoice of that number."""
    query = query.strip()
    if not query:
        return claims
    compact = query.replace(" ", "").replace(".", "")
    matching_invoices = ClaimInvoice.objects.filter(number__iexact=query).values("claim_id")
    return claims.filter(
        Q(number__icontains=query)
        | Q(buyer__name__icontains=query)
        | Q(buyer__siren=compact[:9])
        | Q(buyer__vat_number__iexact=compact)
        | Q(pk__in=matching_invoices)
    )


def claims_totals(claims: QuerySet[Claim]) -> dict[str, Any]:
    """What the list's footer adds up: claims, declared amount, top-up indemnities."""
    return claims.aggregate(
        count=Count("pk", distinct=True),
        declared=Coalesce(Sum("invoice_total"), Value(ZERO)),
        indemnity=Coalesce(Sum("indemnity"), Value(ZERO)),
    )


# --- declaring ------------------------------------------------------------------------------


def claim_contract_for(*, policyholder_id: Any) -> Contract | None:
    """The contract a claim is declared under: the active one, else the latest that was in
    force (a suspended or terminated contract still answers for what it covered)."""
    contracts = Contract.objects.filter(policyholder_id=policyholder_id).select_related(
        "policyholder"
    )
    return (
        contracts.filter(status=ContractStatus.ACTIVE).first()
        or contracts.exclude(status=ContractStatus.DRAFT).order_by("-starts_on").first()
    )


def contract_buyers(*, contract: Contract) -> QuerySet[Buyer]:
    """The buyers the contract holds or held a top-up on."""
    return Buyer.objects.filter(guarantees__contract=contract).distinct().order_by("name")


# --- the claim page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceRow:
    invoice: ClaimInvoice
    deadline: date

    @property
    def covered(self) -> bool:
        return not self.invoice.exclusion

    @property
    def reason(self) -> str:
        return str(Exclusion(self.invoice.exclusion).label)

    @property
    def total_cover(self) -> Decimal:
        return self.invoice.primary_limit + self.invoice.top_up_limit


@dataclass(frozen=True)
class StatementLine:
    number: str
    delivery_date: date
    amount: Decimal
    paid_by_buyer: Decimal
    unpaid: Decimal
    exclusion: str
    loss_before: Decimal
    loss_after: Decimal
    layer_from: Decimal
    layer_to: Decimal
    top_up_part: Decimal
    insured_part: Decimal

    @property
    def covered(self) -> bool:
        return not self.exclusion

    @property
    def reason(self) -> str:
        return "" if self.covered else str(Exclusion(self.exclusion).label)


@dataclass(frozen=True)
class Statement:
    """The indemnity as computed (the claim's stored computation), line by line."""

    lines: tuple[StatementLine, ...]
    insured_percentage: Decimal
    buyer_payments: Decimal
    loss: Decimal
    top_up_parts: Decimal
    exact: Decimal
    amount: Decimal
    rounding: Decimal
    computed_at: datetime | None


def claim_statement(claim: Claim) -> Statement | None:
    """The stored computation, read back as numbers; None before it is computed."""
    data = claim.computation or {}
    if not data.get("lines"):
        return None

    def number(value: Any) -> Decimal:
        return Decimal(str(value or "0"))

    return Statement(
        lines=tuple(
            StatementLine(
                number=line["number"],
                delivery_date=date.fromisoformat(line["delivery_date"]),
                exclusion=line.get("exclusion", ""),
                **{
                    key: number(line.get(key))
                    for key in (
                        "amount",
                        "paid_by_buyer",
                        "unpaid",
                        "loss_before",
                        "loss_after",
                        "layer_from",
                        "layer_to",
                        "top_up_part",
                        "insured_part",
                    )
                },
            )
            for line in data["lines"]
        ),
        insured_percentage=number(data.get("insured_percentage")),
        buyer_payments=number(data.get("buyer_payments")),
        loss=number(data.get("loss")),
        top_up_parts=number(data.get("top_up_parts")),
        exact=number(data.get("exact")),
        amount=number(data.get("amount")),
        rounding=number(data.get("rounding")),
        computed_at=claim.computed_at,
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    label: str
    by: str
    detail: str


# What the policyholder's side may read of an event's data: the rest (the handler's notes,
# authorities, references) stays with the insurer.
def _event_detail(action: str, data: dict[str, Any]) -> str:
    if action == ClaimEvent.INVOICES_ADDED and isinstance(data.get("invoices"), list):
        return ", ".join(str(number) for number in data["invoices"])
    if action == ClaimEvent.DOCUMENT_ADDED:
        return str(data.get("name", ""))
    return ""


def claim_public_timeline(claim: Claim) -> list[TimelineEntry]:
    """The claim's events, oldest first, labelled, without internal notes; the insurer's
    staff appear as the insurer, never by name."""
    events = (
        AuditEvent.objects.filter(object_type=CLAIM_OBJECT_TYPE, object_id=str(claim.pk))
        .select_related("actor__organisation")
        .order_by("at", "pk")
    )
    labels = dict(ClaimEvent.choices)
    entries = []
    for event in events:
        actor = event.actor
        organisation = actor.organisation if actor is not None else None
        if organisation is None or organisation.kind == OrganisationKind.INSURER:
            by = organisation.name if organisation is not None else ""
        else:
            by = actor.get_full_name() or actor.username if actor is not None else ""
        entries.append(
            TimelineEntry(
                at=event.at,
                label=str(labels.get(event.action, event.action)),
                by=by,
                detail=_event_detail(event.action, event.data or {}),
            )
        )
    return entries


@dataclass(frozen=True)
class ClaimDetail:
    claim: Claim
    invoices: tuple[InvoiceRow, ...]
    documents: tuple[ClaimDocument, ...]
    waiting: WaitingPeriod | None
    statement: Statement | None
    buyer_payments: tuple[ClaimMovement, ...]
    recoveries: tuple[ClaimMovement, ...]
    timeline: tuple[TimelineEntry, ...]
    declared_amount: Decimal
    covered_amount: Decimal

    @property
    def waiting_reason(self) -> str:
        return str(WaitingReason(self.waiting.reason).label) if self.waiting else ""

    @property
    def buyer_paid(self) -> Decimal:
        return sum((movement.amount for movement in self.buyer_payments), start=ZERO)

    @property
    def recovered(self) -> Decimal:
        return sum((movement.amount for movement in self.recoveries), start=ZERO)


def claim_detail_data(claim: Claim) -> ClaimDetail:
    """Everything the claim page and its statement show, in a fixed number of queries."""
    contract = claim.contract
    invoices = list(ClaimInvoice.objects.filter(claim=claim))
    rows = tuple(
        InvoiceRow(
            invoice=invoice,
            deadline=declaration_deadline(contract=contract, due_date=invoice.due_date),
        )
        for invoice in invoices
    )
    waiting = (
        waiting_period(
            contract=contract,
            buyer=claim.buyer,
            earliest_due=min(invoice.due_date for invoice in invoices),
            since=min(invoice.delivery_date for invoice in invoices),
        )
        if invoices
        else None
    )
    movements = list(ClaimMovement.objects.filter(claim=claim))
    documents = tuple(ClaimDocument.objects.filter(claim=claim).select_related("invoice"))
    return ClaimDetail(
        claim=claim,
        invoices=rows,
        documents=documents,
        waiting=waiting,
        statement=claim_statement(claim),
        buyer_payments=tuple(m for m in movements if m.kind == MoneyMovementKind.BUYER_PAYMENT),
        recoveries=tuple(m for m in movements if m.kind == MoneyMovementKind.RECOVERY),
        timeline=tuple(claim_public_timeline(claim)),
        declared_amount=sum((invoice.amount for invoice in invoices), start=ZERO),
        covered_amount=sum(
            (invoice.amount for invoice in invoices if not invoice.exclusion), start=ZERO
        ),
    )


# A closed or declined claim takes no more documents (`claim_document_add` refuses them).
CLOSED_TO_DOCUMENTS = (ClaimStatus.CLOSED, ClaimStatus.DECLINED)


# --- back office (claims handler) -------------------------------------------------------------

# Status filter value for every open claim (the back-office queue).
BACKOFFICE_OPEN = "open"


def backoffice_claims(
    *,
    status: str = "",
    handler: User | None = None,
    unassigned: bool = False,
    search: str = "",
    to_countersign_by: User | None = None,
) -> QuerySet[Claim]:
    """The claims handler's queue: every claim the filters select, open ones first, then the
    oldest declared, with `claims_visible`'s invoice count and total, and the earliest due date
    and first delivery the waiting period starts from.

    `status` is "" (all), `BACKOFFICE_OPEN` or a `ClaimStatus`; `search` is the list's search
    or the policyholder's name; `to_countersign_by` keeps the indemnities waiting for that
    senior's countersignature (never their own proposal)."""
    claims = claims_visible().select_related("handler")
    if status == BACKOFFICE_OPEN:
        claims = claims.filter(status__in=OPEN_CLAIM_STATUSES)
    elif status:
        claims = claims.filter(status=status)
    if to_countersign_by is not None:
        claims = claims.filter(status=ClaimStatus.AWAITING_COUNTERSIGNATURE).exclude(
            approved_by=to_countersign_by
        )
    if unassigned:
        claims = claims.filter(handler__isnull=True)
    elif handler is not None:
        claims = claims.filter(handler=handler)
    search = search.strip()
    if search:
        matching = claims_filtered(ClaimFilters(query=search)).values("pk")
        claims = claims.filter(Q(pk__in=matching) | Q(policyholder__name__icontains=search))
    return claims.annotate(
        open_rank=Case(
            When(status__in=OPEN_CLAIM_STATUSES, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        earliest_due=Min("invoices__due_date"),
        first_delivery=Min("invoices__delivery_date"),
    ).order_by("open_rank", "declared_at", "number")


@dataclass(frozen=True)
class QueueRow:
    claim: Claim
    waiting: WaitingPeriod | None


def backoffice_queue_rows(claims: list[Claim]) -> list[QueueRow]:
    """A page of the queue, each claim with its waiting-period end (from the annotations of
    `backoffice_claims`; one small query per claim, for collective proceedings)."""
    rows = []
    for claim in claims:
        earliest_due: date | None = getattr(claim, "earliest_due", None)
        since: date | None = getattr(claim, "first_delivery", None)
        waiting = None
        if earliest_due is not None and since is not None:
            waiting = waiting_period(
                contract=claim.contract, buyer=claim.buyer, earliest_due=earliest_due, since=since
            )
        rows.append(QueueRow(claim=claim, waiting=waiting))
    return rows


def backoffice_claim(claim_id: Any) -> Claim:
    """One claim with the people its file names (raises `Claim.DoesNotExist`)."""
    return Claim.objects.select_related(
        "policyholder",
        "buyer",
        "contract",
        "handler",
        "declared_by",
        "computed_by",
        "approved_by",
        "countersigned_by",
    ).get(pk=claim_id)


def claim_handlers(*, organisation_id: Any) -> QuerySet[User]:
    """The insurer's active users who may handle claims, to whom a claim is assigned."""
    if organisation_id is None:
        return User.objects.none()
    return User.objects.filter(
        organisation_id=organisation_id, role__in=policy.CLAIMS_HANDLERS, is_active=True
    ).order_by("last_name", "first_name", "email")


def claim_internal_timeline(claim: Claim) -> QuerySet[AuditEvent]:
    """The claim's audit rows for the insurer, oldest first, with who did it and why."""
    return (
        AuditEvent.objects.filter(object_type=CLAIM_OBJECT_TYPE, object_id=str(claim.pk))
        .select_related("actor")
        .order_by("at", "pk")
    )


@dataclass(frozen=True)
class Computation:
    """The layered computation the claim file shows: the one recorded with the indemnity, or
    (`preview`) the one `claim_computation` gives now, before it is recorded."""

    preview: bool
    statement: Statement


# Before the indemnity is computed, the file previews it: the figures may still change (the
# buyer's payments, a limit history corrected, a liquidation published late).
PREVIEW_STATUSES = (ClaimStatus.DECLARED, ClaimStatus.IN_RECOVERY, ClaimStatus.PRIMARY_SETTLED)


def _preview(result: Indemnity) -> Statement:
    return Statement(
        lines=tuple(
            StatementLine(
                number=line.number,
                delivery_date=line.delivery_date,
                amount=line.amount,
                paid_by_buyer=line.paid_by_buyer,
                unpaid=line.unpaid,
                exclusion=line.exclusion,
                loss_before=line.loss_before,
                loss_after=line.loss_after,
                layer_from=line.layer_from,
                layer_to=line.layer_to,
                top_up_part=line.top_up_part,
                insured_part=line.insured_part,
            )
            for line in result.lines
        ),
        insured_percentage=result.insured_percentage,
        buyer_payments=result.buyer_payments,
        loss=result.loss,
        top_up_parts=result.top_up_parts,
        exact=result.exact,
        amount=result.amount,
        rounding=result.rounding,
        computed_at=None,
    )


def claim_backoffice_computation(claim: Claim) -> Computation | None:
    """The recorded computation; a preview before there is one; None for a claim closed or
    declined without one."""
    statement = claim_statement(claim)
    if statement is not None:
        return Computation(preview=False, statement=statement)
    if claim.status in PREVIEW_STATUSES:
        return Computation(preview=True, statement=_preview(claim_computation(claim)))
    return None

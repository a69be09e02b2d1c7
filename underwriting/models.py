"""Buyers (global registry), contracts and guarantee periods."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.contrib.postgres.fields.ranges import RangeEndsWith, RangeStartsWith
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import TenantOwned


class DecimalSize(TypedDict):
    """The size of a decimal column, given to `DecimalField` as keyword arguments."""

    max_digits: int
    decimal_places: int


MONEY: DecimalSize = {"max_digits": 14, "decimal_places": 2}


class ProceedingsStatus(models.TextChoices):
    NONE = "none", _("Aucune")
    SAFEGUARD = "safeguard", _("Sauvegarde")
    RECEIVERSHIP = "receivership", _("Redressement judiciaire")
    LIQUIDATION = "liquidation", _("Liquidation judiciaire")


class Buyer(models.Model):
    """A reseller, shared by every wholesaler that sells to it (one global registry).

    French companies are identified by SIREN; a foreign buyer by its EU VAT number.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    siren = models.CharField(_("SIREN"), max_length=9, null=True, blank=True, unique=True)
    vat_number = models.CharField(_("n° TVA"), max_length=20, null=True, blank=True, unique=True)
    country = models.CharField(_("pays"), max_length=2, default="FR")
    name = models.CharField(_("raison sociale"), max_length=200)
    city = models.CharField(_("ville"), max_length=100, blank=True)
    grade = models.PositiveSmallIntegerField(
        _("note de risque"),
        default=5,
        validators=[MinValueValidator(0), MaxValueValidator(10)],
        help_text=_("0 (défaut) à 10 (meilleur)"),
    )
    proceedings = models.CharField(
        _("procédure collective"),
        max_length=20,
        choices=ProceedingsStatus.choices,
        default=ProceedingsStatus.NONE,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("acheteur")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(siren__isnull=False) | Q(vat_number__isnull=False),
                name="buyer_has_an_identifier",
            ),
            models.CheckConstraint(condition=Q(grade__lte=10), name="buyer_grade_0_10"),
        ]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"

    @property
    def identifier(self) -> str:
        return self.siren or self.vat_number or ""


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    ACTIVE = "active", _("Actif")
    SUSPENDED = "suspended", _("Suspendu")
    TERMINATED = "terminated", _("Résilié")


class PremiumBasis(models.TextChoices):
    PEAK = "peak", _("Pic du mois")
    PRORATA = "prorata", _("Prorata temporis")


class Contract(TenantOwned):
    number = models.CharField(_("numéro"), max_length=30, unique=True)
    primary_insurer_name = models.CharField(_("assureur-crédit primaire"), max_length=120)
    primary_policy_number = models.CharField(_("n° de police primaire"), max_length=60)
    status = models.CharField(
        _("statut"), max_length=20, choices=ContractStatus.choices, default=ContractStatus.DRAFT
    )
    starts_on = models.DateField(_("date d'effet"))
    ends_on = models.DateField(_("date de fin"), null=True, blank=True)
    monthly_rate = models.DecimalField(
        _("taux mensuel"), max_digits=8, decimal_places=6, help_text=_("0.0012 = 0,12 %/mois")
    )
    premium_basis = models.CharField(
        _("assiette de prime"),
        max_length=10,
        choices=PremiumBasis.choices,
        default=PremiumBasis.PEAK,
    )
    insured_percentage = models.DecimalField(
        _("quotité garantie"), max_digits=5, decimal_places=4, default=Decimal("0.9000")
    )
    max_credit_term_days = models.PositiveIntegerField(
        _("durée maximale de crédit (j)"), default=90
    )
    waiting_period_days = models.PositiveIntegerField(_("délai de carence (j)"), default=150)
    declaration_deadline_days = models.PositiveIntegerField(
        _("délai de déclaration (j)"), default=60
    )
    top_up_multiple = models.DecimalField(
        _("multiple de top-up"), max_digits=4, decimal_places=2, default=Decimal("2")
    )
    aggregate_cap = models.DecimalField(_("plafond global"), **MONEY, null=True, blank=True)
    discretionary_limit = models.DecimalField(
        _("limite discrétionnaire"), **MONEY, null=True, blank=True
    )
    instant_min_grade = models.PositiveSmallIntegerField(
        _("note minimale pour accord immédiat"), null=True, blank=True
    )
    minimum_premium = models.DecimalField(
        _("prime minimale mensuelle"), **MONEY, null=True, blank=True
    )
    tax_rate = models.DecimalField(
        _("taux de taxe"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    answer_time_hours = models.PositiveIntegerField(
        _("délai de réponse de l'arbitre (heures)"),
        default=24,
        help_text=_("Au-delà, un message du client sans réponse est signalé en retard."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contrat")
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["policyholder"],
                condition=Q(status__in=["active", "suspended"]),
                name="contract_one_in_force_per_policyholder",
            ),
            models.CheckConstraint(condition=Q(monthly_rate__gte=0), name="contract_rate_positive"),
            models.CheckConstraint(
                condition=Q(insured_percentage__gt=0) & Q(insured_percentage__lte=1),
                name="contract_insured_percentage_0_1",
            ),
        ]
        indexes = [
            # The contracts live on a day (`ends_on` null or not passed yet): a few among the
            # years of ended ones. Date comparisons are leakproof, so row-level security lets
            # PostgreSQL read them through this index (portal.dashboards).
            models.Index(fields=["ends_on"], name="contract_ends_on"),
        ]

    def __str__(self) -> str:
        return self.number


class GuaranteeChange(models.TextChoices):
    GRANT = "grant", _("Octroi")
    INCREASE = "increase", _("Augmentation")
    REDUCTION = "reduction", _("Réduction")
    EXPIRY = "expiry", _("Échéance")
    CANCELLATION = "cancellation", _("Annulation")
    PRIMARY_CHANGE = "primary_change", _("Suivi du primaire")
    LIQUIDATION = "liquidation", _("Liquidation de l'acheteur")
    CONTRACT_END = "contract_end", _("Fin du contrat")


class Guarantee(TenantOwned):
    """One dated period `[from, to)` of the top-up limit on (contract, buyer).

    Every change starts a new period; amounts and start dates are never rewritten. The only
    update a period ever receives is the closing of its open upper bound when the next change
    takes effect. `primary_amount` is the primary limit in force over the same period, so a
    claim can read both layers at a delivery date.

    `period_start` and `period_end` are the period's bounds as plain dates kept by PostgreSQL
    (`period_end` exclusive, NULL while open): "in force on a day" compares them with `<=`/`>`,
    which are leakproof, so under row-level security the btree index on them is still used
    (the range operator `@>` is not leakproof: the tenant policy would be checked first on
    every period of the book).
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="guarantees")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="guarantees")
    amount = models.DecimalField(_("top-up"), **MONEY)
    primary_amount = models.DecimalField(_("limite primaire"), **MONEY)
    period = DateRangeField(_("période"))
    period_start = models.GeneratedField(
        expression=RangeStartsWith("period"), output_field=models.DateField(), db_persist=True
    )
    period_end = models.GeneratedField(
        expression=RangeEndsWith("period"), output_field=models.DateField(), db_persist=True
    )
    change = models.CharField(max_length=20, choices=GuaranteeChange.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    exposure = models.DecimalField(_("encours déclaré"), **MONEY, null=True, blank=True)
    decision = models.ForeignKey(
        "underwriting.Decision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="guarantees",
    )

    class Meta:
        verbose_name = _("garantie")
        ordering = ["buyer_id", "period"]
        constraints = [
            ExclusionConstraint(
                name="guarantee_periods_do_not_overlap",
                expressions=[
                    ("contract", RangeOperators.EQUAL),
                    ("buyer", RangeOperators.EQUAL),
                    ("period", RangeOperators.OVERLAPS),
                ],
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="guarantee_amount_positive"),
            models.CheckConstraint(
                condition=Q(primary_amount__gt=0), name="guarantee_primary_positive"
            ),
            # Every period has a first day (so "in force on a day" by the bounds is `@>`).
            models.CheckConstraint(
                condition=Q(period__startswith__isnull=False), name="guarantee_period_has_start"
            ),
        ]
        indexes = [
            models.Index(fields=["policyholder", "buyer"]),
            models.Index(fields=["period_end", "period_start"], name="guarantee_in_force"),
        ]

    def __str__(self) -> str:
        return f"{self.contract} / {self.buyer_id}: {self.amount} {self.period}"


class RequestReason(models.TextChoices):
    NEW_ORDER = "new_order", _("Nouvelle commande")
    SEASONAL = "seasonal", _("Campagne saisonnière")
    INCREASE = "increase", _("Augmentation")
    RENEWAL = "renewal", _("Renouvellement")


class RequestStatus(models.TextChoices):
    OPEN = "open", _("En attente de décision")
    AWAITING_COUNTERSIGNATURE = "awaiting_countersignature", _("En attente de contre-signature")
    APPROVED = "approved", _("Accordée")
    PARTLY_APPROVED = "partly_approved", _("Accordée partiellement")
    REFUSED = "refused", _("Refusée")
    WITHDRAWN = "withdrawn", _("Retirée")


OPEN_STATUSES = (RequestStatus.OPEN, RequestStatus.AWAITING_COUNTERSIGNATURE)


class GuaranteeRequest(TenantOwned):
    """A wholesaler's request for a top-up limit `requested_top_up` on (contract, buyer).

    The requested amount is the top-up limit wanted on the buyer (it replaces any limit in
    force), not an amount added to it. `wants_maximum` records "the most I can get": the
    requested amount is then the largest the rules allowed when the request was made.
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="requests")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="requests")
    exposure = models.DecimalField(_("encours"), **MONEY)
    primary_amount = models.DecimalField(_("limite primaire"), **MONEY)
    requested_top_up = models.DecimalField(_("top-up demandé"), **MONEY)
    wants_maximum = models.BooleanField(_("le maximum possible"), default=False)
    credit_term_days = models.PositiveIntegerField(_("durée de crédit (j)"))
    reason = models.CharField(_("motif"), max_length=20, choices=RequestReason.choices)
    seasonal_until = models.DateField(_("fin de la limite saisonnière"), null=True, blank=True)
    comment = models.TextField(_("commentaire"), blank=True)
    status = models.CharField(
        _("statut"), max_length=30, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("déposée le"))
    due_at = models.DateTimeField(_("échéance de traitement"))
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("arbitre"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # Collective proceedings opened on the buyer: the arbiter resumes or refuses (monitoring).
    held_since = models.DateTimeField(_("suspendue depuis"), null=True, blank=True)
    hold_reason = models.CharField(_("motif de la suspension"), max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    idempotency_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("demande de garantie")
        ordering = ["-submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "buyer"],
                condition=Q(status__in=["open", "awaiting_countersignature"]),
                name="request_one_open_per_contract_buyer",
            ),
            models.UniqueConstraint(
                fields=["policyholder", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="request_idempotency_key_unique",
            ),
            models.CheckConstraint(condition=Q(exposure__gt=0), name="request_exposure_positive"),
            models.CheckConstraint(
                condition=Q(requested_top_up__gte=0), name="request_top_up_not_negative"
            ),
        ]
        indexes = [
            # The arbiter queue: open requests, oldest due first, by assignee or for everyone.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["open", "awaiting_countersignature"]),
                name="request_queue_due",
            ),
            models.Index(
                fields=["assigned_to", "due_at"],
                condition=Q(status__in=["open", "awaiting_countersignature"]),
                name="request_queue_assignee_due",
            ),
            models.Index(fields=["policyholder", "-submitted_at"], name="request_by_policyholder"),
        ]

    def __str__(self) -> str:
        return f"{self.buyer_id} {self.requested_top_up} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class DecisionOutcome(models.TextChoices):
    APPROVED = "approved", _("Accord")
    PARTLY_APPROVED = "partly_approved", _("Accord partiel")
    REFUSED = "refused", _("Refus")


class Decision(TenantOwned):
    """The answer to a request. Immutable: a database trigger refuses updates and deletes.

    `decided_by` is empty when the system approved at once within the discretionary limit.
    """

    request = models.OneToOneField(
        GuaranteeRequest, on_delete=models.PROTECT, related_name="decision"
    )
    outcome = models.CharField(_("décision"), max_length=20, choices=DecisionOutcome.choices)
    amount = models.DecimalField(_("montant accordé"), **MONEY)
    valid_from = models.DateField(_("valable à partir du"), null=True, blank=True)
    valid_until = models.DateField(_("valable jusqu'au"), null=True, blank=True)
    # The internal note stays inside the insurer; only `client_message` is shown outside.
    rationale = models.TextField(_("note interne"), blank=True)
    client_message = models.TextField(_("message au client"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    instant = models.BooleanField(_("accord immédiat"), default=False)
    decided_at = models.DateTimeField(_("décidée le"))

    class Meta:
        verbose_name = _("décision")
        ordering = ["-decided_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="decision_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(outcome="refused", amount=0)
                | (~Q(outcome="refused") & Q(amount__gt=0)),
                name="decision_amount_matches_outcome",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="decision_valid_until_after_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.amount}"


class CountersignatureState(models.TextChoices):
    PENDING = "pending", _("En attente")
    SIGNED = "signed", _("Contre-signée")
    DECLINED = "declined", _("Rejetée")


class PendingDecision(TenantOwned):
    """A decision above its author's authority, waiting for a senior arbiter.

    Countersigning turns it into the (immutable) Decision; declining sends the request back to
    the queue. The proposal itself is kept as the record of what was proposed.
    """

    request = models.ForeignKey(
        GuaranteeRequest, on_delete=models.PROTECT, related_name="pending_decisions"
    )
    outcome = models.CharField(max_length=20, choices=DecisionOutcome.choices)
    amount = models.DecimalField(**MONEY)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    client_message = models.TextField(blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField()
    state = models.CharField(
        max_length=10, choices=CountersignatureState.choices, default=CountersignatureState.PENDING
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        verbose_name = _("décision à contre-signer")
        ordering = ["-proposed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(state="pending"),
                name="pending_decision_one_per_request",
            ),
        ]


class SeasonalExpiry(TenantOwned):
    """The record that a seasonal period ended by itself (written once by the beat task)."""

    guarantee = models.OneToOneField(
        Guarantee, on_delete=models.PROTECT, related_name="expiry_record"
    )
    ended_on = models.DateField()
    recorded_at = models.DateTimeField(auto_now_add=True)

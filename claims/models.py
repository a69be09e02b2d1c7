"""Claims on unpaid invoices (DESIGN §4 "Claim"): the declaration, its invoices and documents,
the primary's settlement, the buyer's payments and later recoveries, and the top-up indemnity.

Every row is the policyholder's (`TenantOwned`): reachable only through its scope.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import TenantOwned
from underwriting.models import MONEY, Buyer, Contract


class ClaimStatus(models.TextChoices):
    DECLARED = "declared", _("Déclaré")
    IN_RECOVERY = "in_recovery", _("En recouvrement")
    RECOVERED = "recovered", _("Recouvré (l'acheteur a payé)")
    PRIMARY_SETTLED = "primary_settled", _("Règlement du primaire enregistré")
    INDEMNITY_COMPUTED = "indemnity_computed", _("Indemnité calculée")
    AWAITING_COUNTERSIGNATURE = "awaiting_countersignature", _("En attente de contre-signature")
    APPROVED = "approved", _("Indemnité approuvée")
    PAID = "paid", _("Indemnité payée")
    CLOSED = "closed", _("Clos")
    DECLINED = "declined", _("Refusé")


OPEN_CLAIM_STATUSES = (
    ClaimStatus.DECLARED,
    ClaimStatus.IN_RECOVERY,
    ClaimStatus.PRIMARY_SETTLED,
    ClaimStatus.INDEMNITY_COMPUTED,
    ClaimStatus.AWAITING_COUNTERSIGNATURE,
    ClaimStatus.APPROVED,
)


class PrimaryOutcome(models.TextChoices):
    PENDING = "", _("En attente")
    PAID = "paid", _("Indemnisé par le primaire")
    DECLINED = "declined", _("Refusé par le primaire")


class WaitingReason(models.TextChoices):
    DUE_DATE = "due_date", _("Première échéance + délai de carence")
    PROCEEDINGS = "proceedings", _("Procédure collective ouverte")


class Claim(TenantOwned):
    """Unpaid invoices on one buyer under one contract."""

    number = models.CharField(_("numéro"), max_length=20, unique=True)
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="claims")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="claims")
    status = models.CharField(
        _("statut"), max_length=30, choices=ClaimStatus.choices, default=ClaimStatus.DECLARED
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    declared_at = models.DateTimeField(_("déclaré le"))
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("gestionnaire"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # The primary insurer's settlement, as the handler records it.
    primary_outcome = models.CharField(
        _("décision du primaire"),
        max_length=10,
        choices=PrimaryOutcome.choices,
        default=PrimaryOutcome.PENDING,
        blank=True,
    )
    primary_paid = models.DecimalField(_("indemnité du primaire"), **MONEY, null=True, blank=True)
    primary_settled_on = models.DateField(_("date du règlement primaire"), null=True, blank=True)
    primary_note = models.TextField(_("motif"), blank=True)
    # The top-up indemnity: the figure, the computation a credit manager can follow (lines as
    # computed, JSON), who proposed, approved, countersigned and paid it.
    indemnity = models.DecimalField(_("indemnité top-up"), **MONEY, null=True, blank=True)
    computation = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_on = models.DateField(_("payée le"), null=True, blank=True)
    payment_reference = models.CharField(_("référence du paiement"), max_length=60, blank=True)
    due_back = models.DecimalField(
        _("à reverser à l'assureur"), **MONEY, default=0, help_text=_("part top-up des recours")
    )
    decline_reason = models.TextField(_("motif du refus"), blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # A declaration retried through the API with the same key returns the first claim.
    idempotency_key = models.CharField(max_length=100, blank=True)
    idempotency_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("sinistre")
        ordering = ["-declared_at"]
        indexes = [
            models.Index(fields=["policyholder", "-declared_at"], name="claim_by_policyholder"),
            models.Index(fields=["status", "declared_at"], name="claim_by_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["policyholder", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="claim_idempotency_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(indemnity__isnull=True) | Q(indemnity__gte=0),
                name="claim_indemnity_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(primary_paid__isnull=True) | Q(primary_paid__gte=0),
                name="claim_primary_paid_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Exclusion(models.TextChoices):
    COVERED = "", _("Couverte par le top-up")
    OUTSIDE_TOP_UP = "outside_top_up", _("Livrée hors de toute période de top-up")
    CREDIT_TERM = "credit_term", _("Durée de crédit au-delà du maximum du contrat")


class ClaimInvoice(TenantOwned):
    """One unpaid invoice, with the limits in force at its delivery date and, if the top-up does
    not cover it, why."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="invoices")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("n° de facture"), max_length=40)
    amount = models.DecimalField(_("montant TTC"), **MONEY)
    invoice_date = models.DateField(_("date de facture"))
    delivery_date = models.DateField(_("date de livraison"))
    due_date = models.DateField(_("échéance"))
    primary_limit = models.DecimalField(_("limite primaire à la livraison"), **MONEY, default=0)
    top_up_limit = models.DecimalField(_("top-up à la livraison"), **MONEY, default=0)
    exclusion = models.CharField(
        _("couverture"), max_length=20, choices=Exclusion.choices, default="", blank=True
    )
    declared_at = models.DateTimeField()

    class Meta:
        verbose_name = _("facture impayée")
        ordering = ["delivery_date", "invoice_date", "number"]
        constraints = [
            # One declaration per invoice of a seller: the same number on the same buyer, for
            # the same policyholder (two sellers may number their invoices alike).
            models.UniqueConstraint(
                fields=["policyholder", "buyer", "number"], name="claim_invoice_once"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="claim_invoice_positive"),
            models.CheckConstraint(
                condition=Q(due_date__gte=models.F("invoice_date")),
                name="claim_invoice_due_after_invoice",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def credit_term_days(self) -> int:
        return (self.due_date - self.delivery_date).days


def _document_path(instance: ClaimDocument, filename: str) -> str:
    # Never the uploaded name: a random path, served only through the claim's scope.
    return f"claims/{instance.claim_id}/{uuid.uuid4().hex}"


class ClaimDocument(TenantOwned):
    """A supporting document (PDF, PNG, JPEG), recognised by its content."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="documents")
    invoice = models.ForeignKey(
        ClaimInvoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="documents"
    )
    file = models.FileField(upload_to=_document_path, max_length=200)
    name = models.CharField(_("nom"), max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("pièce justificative")
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return self.name


class MoneyMovementKind(models.TextChoices):
    BUYER_PAYMENT = "buyer_payment", _("Paiement de l'acheteur avant règlement")
    RECOVERY = "recovery", _("Recours après indemnisation")


class ClaimMovement(TenantOwned):
    """Money the buyer paid: before the settlement it reduces the loss; after the indemnity is
    paid it is a recovery shared between the layers."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="movements")
    kind = models.CharField(max_length=20, choices=MoneyMovementKind.choices)
    amount = models.DecimalField(_("montant"), **MONEY)
    received_on = models.DateField(_("reçu le"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    due_back = models.DecimalField(**MONEY, default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_on", "recorded_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="claim_movement_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"

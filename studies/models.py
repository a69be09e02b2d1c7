"""Portfolio studies: a buyer list uploaded for a policyholder (or a prospect), a verdict and a
proposal per line, the arbiter's adjustments, the report, and its acceptance."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import Organisation, TenantOwned
from underwriting.models import MONEY, Buyer, Contract


class StudyStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    ANALYSING = "analysing", _("Analyse en cours")
    SUBMITTED = "submitted", _("Soumise à l'assureur")
    AWAITING_COUNTERSIGNATURE = "awaiting_countersignature", _("En attente de contre-signature")
    FINALISED = "finalised", _("Rapport émis")
    ACCEPTED = "accepted", _("Acceptée")
    DECLINED = "declined", _("Refusée par le client")
    EXPIRED = "expired", _("Expirée")


# While a study is one of these, its buyer list may still be replaced.
EDITABLE_STATUSES = (StudyStatus.DRAFT,)
OPEN_STATUSES = (
    StudyStatus.DRAFT,
    StudyStatus.ANALYSING,
    StudyStatus.SUBMITTED,
    StudyStatus.AWAITING_COUNTERSIGNATURE,
    StudyStatus.FINALISED,
)


class Study(TenantOwned):
    """A portfolio study of one policyholder's buyers, on the contract it will activate.

    For a prospect (a wholesaler not yet on the platform) the policyholder and its draft contract
    were created with the study, and its contact is invited when the study is accepted.
    """

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="studies")
    broker = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_prospect = models.BooleanField(_("prospect"), default=False)
    contact_name = models.CharField(_("contact"), max_length=200, blank=True)
    contact_email = models.EmailField(_("e-mail du contact"), blank=True)
    status = models.CharField(
        _("statut"), max_length=30, choices=StudyStatus.choices, default=StudyStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    # The buyer list in force (a corrected file replaces it while the study is a draft).
    file_name = models.CharField(_("fichier"), max_length=200, blank=True)
    file_kind = models.CharField(max_length=10, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    lines_total = models.PositiveIntegerField(default=0)
    lines_analysed = models.PositiveIntegerField(default=0)
    lines_accepted = models.PositiveIntegerField(default=0)
    lines_refused = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    finalised_at = models.DateTimeField(null=True, blank=True)
    expires_on = models.DateField(_("valable jusqu'au"), null=True, blank=True)
    total_top_up = models.DecimalField(_("total des top-ups proposés"), **MONEY, default=0)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_note = models.TextField(blank=True)

    class Meta:
        verbose_name = _("étude de portefeuille")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract"],
                condition=Q(
                    status__in=[
                        "draft",
                        "analysing",
                        "submitted",
                        "awaiting_countersignature",
                        "finalised",
                    ]
                ),
                name="study_one_open_per_contract",
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="study_by_status")]

    def __str__(self) -> str:
        return f"{self.contract_id} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class StudyFile(TenantOwned):
    """The bytes of a large buyer list, kept while a worker analyses it."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="pending_file")
    content = models.BinaryField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )


class LineVerdict(models.TextChoices):
    ACCEPTED = "accepted", _("Acceptée")
    REFUSED = "refused", _("Refusée")


class StudyLine(TenantOwned):
    """One line of the buyer list, with its verdict and, when accepted, its proposal."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField(_("ligne"))
    identifier = models.CharField(_("identifiant"), max_length=40, blank=True)
    name = models.CharField(_("raison sociale"), max_length=200, blank=True)
    exposure = models.DecimalField(_("encours"), **MONEY, null=True, blank=True)
    primary_amount = models.DecimalField(_("limite primaire"), **MONEY, null=True, blank=True)
    requested_top_up = models.DecimalField(_("top-up demandé"), **MONEY, null=True, blank=True)
    verdict = models.CharField(max_length=10, choices=LineVerdict.choices)
    errors = models.JSONField(default=list, blank=True)
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, null=True, blank=True)
    grade = models.PositiveSmallIntegerField(null=True, blank=True)
    max_top_up = models.DecimalField(_("maximum autorisé"), **MONEY, null=True, blank=True)
    proposed_top_up = models.DecimalField(_("proposition"), **MONEY, null=True, blank=True)
    proposal_reason = models.CharField(max_length=300, blank=True)
    adjusted_top_up = models.DecimalField(_("montant ajusté"), **MONEY, null=True, blank=True)
    adjustment_reason = models.CharField(_("motif de l'ajustement"), max_length=500, blank=True)
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("ligne d'étude")
        ordering = ["line_number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "line_number"], name="study_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.study_id}:{self.line_number}"

    @property
    def final_top_up(self) -> Decimal:
        if self.adjusted_top_up is not None:
            return self.adjusted_top_up
        return self.proposed_top_up or Decimal("0")


class ProposalGridBand(models.Model):
    """One band of the study proposal grid (DESIGN §4), editable by the insurer admin: lines of
    a buyer graded `min_grade`..`max_grade` get `factor` × the largest allowed top-up."""

    min_grade = models.PositiveSmallIntegerField(
        _("note min."), validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    max_grade = models.PositiveSmallIntegerField(
        _("note max."), validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    factor = models.DecimalField(
        _("part du maximum"),
        max_digits=4,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )

    class Meta:
        verbose_name = _("tranche de la grille de proposition")
        ordering = ["-min_grade"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_grade__lte=models.F("max_grade")), name="grid_band_ordered"
            ),
            models.CheckConstraint(
                condition=Q(factor__gte=0) & Q(factor__lte=1), name="grid_band_factor_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.min_grade}-{self.max_grade}: {self.factor}"

    def clean(self) -> None:
        """Bands do not overlap: each grade has one proposal rule."""
        from django.core.exceptions import ValidationError

        overlapping = ProposalGridBand.objects.exclude(pk=self.pk).filter(
            min_grade__lte=self.max_grade, max_grade__gte=self.min_grade
        )
        if self.min_grade is not None and self.max_grade is not None and overlapping.exists():
            raise ValidationError(
                _("Cette tranche chevauche une autre tranche de la grille."), code="overlap"
            )

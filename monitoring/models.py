"""Buyer-health data and the alerts it raises (DESIGN §4 "Monitoring").

Notices, grade changes and alerts are about a buyer of the global registry: they are not a
tenant's rows. Which policyholders an alert reached is (`AlertExposure`), so a policyholder's
alert feed is reachable only through its scope.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import TenantOwned
from underwriting.models import Buyer, Guarantee


class FileKind(models.TextChoices):
    BODACC = "bodacc", _("Annonces BODACC (procédures collectives)")
    GRADES = "grades", _("Changements de note")


class FileStatus(models.TextChoices):
    RECEIVED = "received", _("Reçu")
    IMPORTING = "importing", _("Import en cours")
    APPLIED = "applied", _("Appliqué")
    REFUSED = "refused", _("Refusé")


def _file_path(instance: HealthFile, filename: str) -> str:
    return f"monitoring/{instance.received_at:%Y/%m}/{instance.pk}.{instance.kind}"


class HealthFile(models.Model):
    """One file given to the built-in provider: the import history, with its line problems."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(_("fournisseur"), max_length=60)
    kind = models.CharField(_("type"), max_length=10, choices=FileKind.choices)
    name = models.CharField(_("fichier"), max_length=200)
    content = models.FileField(upload_to=_file_path, max_length=200)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(_("taille (octets)"))
    received_at = models.DateTimeField(_("reçu le"))
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        _("statut"), max_length=10, choices=FileStatus.choices, default=FileStatus.RECEIVED
    )
    # Progress and outcome, written by the import as it goes.
    total = models.PositiveIntegerField(_("enregistrements lus"), default=0)
    stored = models.PositiveIntegerField(_("enregistrements traités"), default=0)
    records = models.PositiveIntegerField(_("enregistrements retenus"), default=0)
    ignored = models.PositiveIntegerField(_("hors procédures collectives"), default=0)
    unknown_buyers = models.PositiveIntegerField(_("acheteurs hors registre"), default=0)
    new_records = models.PositiveIntegerField(_("nouveaux"), default=0)
    alerts = models.PositiveIntegerField(_("alertes"), default=0)
    problems = models.JSONField(_("lignes rejetées"), default=list, blank=True)
    error = models.TextField(_("motif du refus"), blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("fichier de surveillance")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def progress(self) -> int:
        """Percentage of the file's records processed (for the progress bar)."""
        if self.status in (FileStatus.APPLIED, FileStatus.REFUSED):
            return 100
        if not self.total:
            return 0
        return min(99, self.stored * 100 // self.total)


class JudgmentEvent(models.TextChoices):
    SAFEGUARD = "safeguard", _("Ouverture d'une sauvegarde")
    RECEIVERSHIP = "receivership", _("Ouverture d'un redressement judiciaire")
    LIQUIDATION = "liquidation", _("Liquidation judiciaire")
    PLAN = "plan", _("Plan")
    CLOSURE = "closure", _("Clôture")
    OTHER = "other", _("Autre jugement")


OPENINGS = (JudgmentEvent.SAFEGUARD, JudgmentEvent.RECEIVERSHIP, JudgmentEvent.LIQUIDATION)


class NoticeKind(models.TextChoices):
    INITIAL = "initial", _("Avis initial")
    RECTIFICATION = "rectification", _("Rectificatif")
    CANCELLATION = "cancellation", _("Annulation")


class NoticeState(models.TextChoices):
    PENDING = "pending", _("À appliquer")
    ACTIVE = "active", _("En vigueur")
    DUPLICATE = "duplicate", _("Doublon d'un jugement déjà publié")
    REPLACED = "replaced", _("Remplacé par un rectificatif")
    WITHDRAWN = "withdrawn", _("Annulé")
    ORPHAN = "orphan", _("Avis corrigé introuvable")


class ProceedingsNotice(models.Model):
    """A collective-proceedings notice on a registry buyer, as published (BODACC).

    `key` names the notice (publication, issue, number); `judgment_key` the judgment, so the
    same judgment published twice counts once. A rectification or a cancellation names the
    notice it corrects in `previous_key`; applying it replaces or withdraws that notice.
    """

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(max_length=80, unique=True)
    # The same notice named by its publication date instead of its issue number: a
    # rectification may name the notice it corrects either way.
    date_key = models.CharField(max_length=80, db_index=True)
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=15, choices=NoticeKind.choices)
    publication = models.CharField(max_length=10)
    issue = models.CharField(max_length=20, blank=True)
    number = models.CharField(max_length=20)
    published_on = models.DateField(_("parution"))
    event = models.CharField(
        _("jugement"), max_length=15, choices=JudgmentEvent.choices, blank=True
    )
    judged_on = models.DateField(_("date du jugement"), null=True, blank=True)
    nature = models.TextField(_("nature"), blank=True)
    court = models.CharField(_("tribunal"), max_length=200, blank=True)
    judgment_key = models.CharField(max_length=60, blank=True)
    previous_key = models.CharField(max_length=80, blank=True, db_index=True)
    previous_date_key = models.CharField(max_length=80, blank=True, db_index=True)
    corrects = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="corrections"
    )
    state = models.CharField(
        max_length=10, choices=NoticeState.choices, default=NoticeState.PENDING
    )
    provider = models.CharField(max_length=60)
    file = models.ForeignKey(
        HealthFile, on_delete=models.SET_NULL, null=True, blank=True, related_name="notices"
    )
    received_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("annonce de procédure collective")
        ordering = ["-judged_on", "-published_on"]
        indexes = [
            models.Index(fields=["buyer", "judged_on"]),
            models.Index(
                fields=["published_on", "id"],
                condition=Q(applied_at__isnull=True),
                name="notice_pending",
            ),
            models.Index(
                fields=["judgment_key"], condition=Q(state="active"), name="notice_active_judgment"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class GradeChange(models.Model):
    """A buyer's grade (0 worst to 10 best) from a date, as a provider reported it."""

    id = models.BigAutoField(primary_key=True)
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="grade_changes")
    grade = models.PositiveSmallIntegerField(_("note"), validators=[MaxValueValidator(10)])
    effective_on = models.DateField(_("date"))
    source = models.CharField(_("source"), max_length=60, blank=True)
    # The grade it replaced (the previous one by date when applied) and whether it is the
    # buyer's grade now; set by the sweep.
    previous_grade = models.PositiveSmallIntegerField(null=True, blank=True)
    provider = models.CharField(max_length=60)
    file = models.ForeignKey(
        HealthFile, on_delete=models.SET_NULL, null=True, blank=True, related_name="grades"
    )
    received_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("changement de note")
        ordering = ["-effective_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "effective_on", "source", "grade"], name="grade_change_once"
            ),
            models.CheckConstraint(condition=Q(grade__lte=10), name="grade_change_0_10"),
        ]
        indexes = [
            models.Index(fields=["buyer", "effective_on"]),
            models.Index(
                fields=["id"], condition=Q(applied_at__isnull=True), name="grade_change_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.buyer_id}: {self.grade} ({self.effective_on})"


class AlertRule(models.TextChoices):
    PROCEEDINGS = "proceedings", _("Ouverture d'une procédure collective")
    GRADE_FALL = "grade_fall", _("Baisse de note de 2 points ou plus")
    GRADE_LOW = "grade_low", _("Note tombée à 3 ou moins")
    PRIMARY_REDUCED = "primary_reduced", _("Réduction de la limite primaire signalée")


class Alert(models.Model):
    """One fact about a buyer's health that its exposed parties must hear of, once.

    `key` names the fact (a judgment, a grade change, a reported reduction), so applying the
    same data twice raises nothing new. `rules` lists every rule it meets (a grade falling from
    6 to 3 meets two; its parties hear of it once).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.CharField(max_length=120, unique=True)
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="alerts")
    rule = models.CharField(_("règle"), max_length=20, choices=AlertRule.choices)
    rules = models.JSONField(default=list)
    occurred_on = models.DateField(_("date"))
    notice = models.ForeignKey(
        ProceedingsNotice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    grade_change = models.ForeignKey(
        GradeChange, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    guarantee = models.ForeignKey(
        Guarantee, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("alerte")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["buyer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.rule} {self.buyer_id} {self.occurred_on}"


class AlertExposure(TenantOwned):
    """An alert as one exposed policyholder received it: its alert feed. The exposure is what it
    had on the buyer when the alert was raised."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="exposures")
    top_up = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    open_request = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("alerte reçue")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "policyholder"], name="alert_exposure_once"),
        ]
        indexes = [models.Index(fields=["policyholder", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.alert_id} → {self.policyholder_id}"


class ProviderCursor(models.Model):
    """Where the daily sweep stopped reading a provider (`BuyerHealthProvider.fetch(since)`)."""

    provider = models.CharField(max_length=60, primary_key=True)
    fetched_until = models.DateTimeField(null=True, blank=True)
    swept_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.provider


# --- expert insights on buyers (DESIGN §4 "Dedicated arbiter") ------------------------------


class Outlook(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    STABLE = "stable", _("Stable")
    NEGATIVE = "negative", _("Négative")
    WATCH = "watch", _("Sous surveillance")


ASSESSMENT_MAX_LENGTH = 2000


class BuyerInsight(models.Model):
    """An arbiter's dated view of a buyer's health, for the policyholders exposed to it.

    A buyer of the global registry, not a tenant's row: which policyholders it reached is
    (`InsightExposure`). Immutable once published (a database trigger refuses UPDATE and
    DELETE): a newer insight names the one it supersedes, which stays in the history. The
    chain is linear: one first insight per buyer, each superseded at most once.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="insights")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(_("publiée le"))
    assessment = models.CharField(_("analyse"), max_length=ASSESSMENT_MAX_LENGTH)
    outlook = models.CharField(_("perspective"), max_length=10, choices=Outlook.choices)
    recommended_min = models.DecimalField(
        _("limite recommandée, minimum"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    recommended_max = models.DecimalField(
        _("limite recommandée, maximum"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )

    class Meta:
        verbose_name = _("analyse d'expert")
        ordering = ["-published_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(assessment=""), name="buyer_insight_assessment_required"
            ),
            models.CheckConstraint(
                condition=(Q(recommended_min__isnull=True) | Q(recommended_min__gte=0))
                & (Q(recommended_max__isnull=True) | Q(recommended_max__gte=0))
                & (
                    Q(recommended_min__isnull=True)
                    | Q(recommended_max__isnull=True)
                    | Q(recommended_min__lte=models.F("recommended_max"))
                ),
                name="buyer_insight_recommended_range",
            ),
            # One first insight per buyer: two concurrent first publications cannot both start
            # a history (the others are ordered by `supersedes`, one-to-one).
            models.UniqueConstraint(
                fields=["buyer"],
                condition=Q(supersedes__isnull=True),
                name="buyer_insight_one_first",
            ),
        ]
        indexes = [models.Index(fields=["buyer", "-published_at"])]

    def __str__(self) -> str:
        return f"{self.buyer_id} {self.published_at:%Y-%m-%d}"

    @property
    def recommended_range(self) -> bool:
        return self.recommended_min is not None or self.recommended_max is not None


class InsightExposure(TenantOwned):
    """An insight as one exposed policyholder received it (its alert feed)."""

    insight = models.ForeignKey(BuyerInsight, on_delete=models.CASCADE, related_name="exposures")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("analyse reçue")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["insight", "policyholder"], name="insight_exposure_once"
            ),
        ]
        indexes = [models.Index(fields=["policyholder", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.insight_id} → {self.policyholder_id}"

"""Premium invoices and credit notes, their PDFs, the gap-free numbering and the billing runs.

An issued invoice is an immutable document: names, identifiers, rates and amounts are copied into
its own rows when it is issued, and its PDF is rendered from those rows once and stored.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.ids import uuid7
from portal.models import TenantOwned
from underwriting.models import MONEY, DecimalSize, PremiumBasis

RATE: DecimalSize = {"max_digits": 8, "decimal_places": 6}
STALLED_AFTER = timedelta(minutes=15)


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", _("Facture")
    CREDIT_NOTE = "credit_note", _("Avoir")


class InvoiceNumberSequence(models.Model):
    """The last number used in a calendar year. Locked (SELECT ... FOR UPDATE) by the
    transaction that issues a document, so a rolled-back issue gives its number back."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Invoice(TenantOwned):
    kind = models.CharField(
        _("type"), max_length=12, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE
    )
    contract = models.ForeignKey(
        "underwriting.Contract", on_delete=models.PROTECT, related_name="invoices"
    )
    month = models.DateField(_("mois facturé"), help_text=_("Premier jour du mois."))
    number = models.CharField(_("numéro"), max_length=20, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    issued_at = models.DateTimeField(_("émise le"))
    issued_on = models.DateField(_("date d'émission"))
    due_on = models.DateField(_("échéance"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    billing_run = models.ForeignKey(
        "billing.BillingRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invoices",
    )
    credits = models.ForeignKey(
        "self",
        verbose_name=_("avoir sur"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
    )
    reason = models.TextField(_("motif"), blank=True)

    # Identities and terms, copied at issue time.
    insurer_name = models.CharField(max_length=200)
    insurer_address = models.TextField(blank=True)
    insurer_siren = models.CharField(max_length=9, blank=True)
    policyholder_name = models.CharField(max_length=200)
    policyholder_address = models.TextField(blank=True)
    policyholder_siren = models.CharField(max_length=9, blank=True)
    contract_number = models.CharField(max_length=30)
    premium_basis = models.CharField(max_length=10, choices=PremiumBasis.choices)
    monthly_rate = models.DecimalField(**RATE)
    days_in_month = models.PositiveSmallIntegerField()
    minimum_premium = models.DecimalField(**MONEY, null=True, blank=True)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    payment_iban = models.CharField(max_length=34, blank=True)
    payment_bic = models.CharField(max_length=11, blank=True)
    payment_bank = models.CharField(max_length=100, blank=True)

    # Amounts (negative on a credit note).
    premium_total = models.DecimalField(_("primes"), **MONEY)
    minimum_adjustment = models.DecimalField(_("complément prime minimale"), **MONEY)
    tax_amount = models.DecimalField(_("taxe"), **MONEY)
    total = models.DecimalField(_("total"), **MONEY)

    # When the overdue reminder went out (billing.tasks.invoice_reminders_send): once.
    reminder_sent_at = models.DateTimeField(_("relance envoyée le"), null=True, blank=True)

    # What settles the invoice, kept by PostgreSQL from the rows themselves (triggers of
    # migration 0006, `billing/settlement_sql.py`): Σ its payments and Σ its credit notes
    # (positive). The application never writes them (a trigger refuses it), so a stale instance
    # saved whole cannot undo a payment. Stored so that balances, statuses and receivables are
    # read from the invoice's row: computed from every payment, a ledger of 120 000 invoices
    # took seconds under row-level security.
    paid = models.DecimalField(
        _("payé"), **MONEY, default=Decimal("0.00"), db_default=Decimal("0.00"), editable=False
    )
    credited = models.DecimalField(
        _("crédité par avoir"),
        **MONEY,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
        editable=False,
    )
    # total − credited − paid (0 on a credit note), and whether some of it is still due.
    balance = models.GeneratedField(
        expression=Case(
            When(kind=InvoiceKind.CREDIT_NOTE, then=Value(Decimal("0.00"))),
            default=F("total") - F("credited") - F("paid"),
        ),
        output_field=models.DecimalField(_("solde"), **MONEY),
        db_persist=True,
    )
    outstanding = models.GeneratedField(
        # A Q is resolved like any expression (the stubs want an `Expression`).
        expression=Q(kind=InvoiceKind.INVOICE) & Q(total__gt=F("credited") + F("paid")),  # type: ignore[arg-type]
        output_field=models.BooleanField(_("reste dû")),
        db_persist=True,
    )

    class Meta:
        verbose_name = _("facture")
        ordering = ["-year", "-sequence"]
        constraints = [
            # One invoice per (contract, month), ever; credit notes reference their invoice.
            models.UniqueConstraint(
                fields=["contract", "month"],
                condition=Q(kind="invoice"),
                name="invoice_one_per_contract_and_month",
            ),
            models.UniqueConstraint(fields=["year", "sequence"], name="invoice_number_unique"),
            models.CheckConstraint(condition=Q(month__day=1), name="invoice_month_first_day"),
            models.CheckConstraint(
                condition=(Q(kind="invoice") & Q(credits__isnull=True))
                | (Q(kind="credit_note") & Q(credits__isnull=False)),
                name="invoice_credit_note_references_an_invoice",
            ),
        ]
        indexes = [
            models.Index(fields=["policyholder", "month"]),
            models.Index(fields=["month"]),
            # The PDF sweep reads the recent invoices (billing.services.pdfs).
            models.Index(fields=["issued_at"]),
            # The invoice list's default order (`billing.tables.InvoiceTable`, the primary key
            # last as its tie-break): its first page read in order, not the whole table sorted.
            models.Index(fields=["-issued_on", "-number", "id"], name="invoice_listed"),
            # Receivables and overdue invoices: the few with something due, by due date. A
            # boolean, not `balance > 0`: numeric comparisons are not leakproof, so under
            # row-level security PostgreSQL could not use them in an index.
            models.Index(
                fields=["due_on"], condition=Q(outstanding=True), name="invoice_outstanding"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE

    @property
    def is_prorata(self) -> bool:
        return self.premium_basis == PremiumBasis.PRORATA


class PaymentSource(models.TextChoices):
    MANUAL = "manual", _("Saisie")
    BANK_IMPORT = "bank_import", _("Relevé bancaire")


class PaymentStatus(models.TextChoices):
    """An invoice's state, read from its stored paid and credited amounts."""

    UNPAID = "unpaid", _("Impayée")
    PARTLY_PAID = "partly_paid", _("Partiellement payée")
    PAID = "paid", _("Payée")


class Payment(TenantOwned):
    """Money received against an invoice, recorded by insurer finance ops by hand or from a bank
    statement. Each row adds its amount to its invoice's `paid`, in PostgreSQL (a trigger), so
    the invoice's balance always agrees with its payments."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    received_on = models.DateField(_("reçu le"))
    amount = models.DecimalField(_("montant"), **MONEY)
    reference = models.CharField(_("référence"), max_length=140, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(
        _("origine"), max_length=12, choices=PaymentSource.choices, default=PaymentSource.MANUAL
    )
    created_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)

    class Meta:
        verbose_name = _("paiement")
        ordering = ["received_on", "created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            # A bank line already imported is recognised by (reference, date, amount).
            models.Index(fields=["reference", "received_on", "amount"]),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.amount}"


class InvoiceLine(TenantOwned):
    """One buyer's premium for the month (or, on a partial credit note, one labelled amount)."""

    # Time-ordered: a month writes a million lines at once (`portal.ids`); the run's SQL writes
    # the same (`billing.premium_sql.UUID7`).
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)

    # A month writes a line per (contract, buyer): ~1M rows, so no index that nothing reads.
    # (invoice, position) is unique, which indexes the lookups by invoice.
    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    position = models.PositiveIntegerField()
    buyer = models.ForeignKey(
        "underwriting.Buyer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    buyer_name = models.CharField(max_length=200, blank=True)
    buyer_identifier = models.CharField(max_length=20, blank=True)
    label = models.CharField(max_length=200, blank=True)
    base = models.DecimalField(_("assiette"), **MONEY)
    amount_days = models.DecimalField(
        _("Σ montant × jours"), max_digits=20, decimal_places=2, null=True, blank=True
    )
    days_in_force = models.PositiveSmallIntegerField(_("jours en vigueur"), null=True, blank=True)
    rate = models.DecimalField(**RATE)
    premium = models.DecimalField(_("prime"), **MONEY)

    class Meta:
        verbose_name = _("ligne de facture")
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} #{self.position}"


class InvoicePdf(TenantOwned):
    """The rendered PDF, stored once in PostgreSQL beside the invoice: the web and worker
    containers share no filesystem, and the bytes are backed up and scoped with their invoice."""

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="pdf")
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    rendered_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"PDF {self.invoice_id}"


class BillingRunStatus(models.TextChoices):
    QUEUED = "queued", _("En attente")
    RUNNING = "running", _("En cours")
    FINISHED = "finished", _("Terminée")
    FAILED = "failed", _("Échouée")


class BillingRunTrigger(models.TextChoices):
    BEAT = "beat", _("Planifiée")
    PAGE = "page", _("Page finance")
    COMMAND = "command", _("Commande")
    API = "api", _("API")


ACTIVE_RUN_STATUSES = (BillingRunStatus.QUEUED, BillingRunStatus.RUNNING)


class BillingRun(models.Model):
    """One pass of month-end billing over every contract in force in `month` (insurer-wide).

    Contracts are billed in number order, a group per transaction; `resume_after` (the last
    contract of the last committed group) and the counters are written in that transaction.
    The counters are derived from rows, never accumulated: `issued` counts the invoices of this
    run, `failed` its failures, `skipped` the contracts up to `resume_after` with neither, so
    they match the invoices whoever executes the run and however often; `issued + skipped +
    failed` reaches `total` when it finishes. `updated_at` is the heartbeat of each group.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    month = models.DateField(_("mois"))
    trigger = models.CharField(max_length=10, choices=BillingRunTrigger.choices)
    status = models.CharField(
        max_length=10, choices=BillingRunStatus.choices, default=BillingRunStatus.QUEUED
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    issued = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(
        default=0, help_text=_("Déjà facturés, ou rien à facturer.")
    )
    failed = models.PositiveIntegerField(default=0)
    # The number of the last contract processed: a resumed execution continues after it.
    resume_after = models.CharField(max_length=30, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("campagne de facturation")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(month__day=1), name="billing_run_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} ({self.status})"

    @property
    def done(self) -> int:
        return self.issued + self.skipped

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.status == BillingRunStatus.FINISHED else 0
        return min(100, round(100 * (self.done + self.failed) / self.total))

    @property
    def is_stalled(self) -> bool:
        """Running, but silent for a while: its worker was most likely killed. Running the
        month again finishes the work."""
        return (
            self.status == BillingRunStatus.RUNNING
            and self.updated_at is not None
            and timezone.now() - self.updated_at > STALLED_AFTER
        )

    @property
    def is_active(self) -> bool:
        """Worth polling: queued, or running and still making progress."""
        return self.status == BillingRunStatus.QUEUED or (
            self.status == BillingRunStatus.RUNNING and not self.is_stalled
        )


class BillingRunFailure(models.Model):
    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="failures")
    contract = models.ForeignKey(
        "underwriting.Contract", on_delete=models.PROTECT, related_name="+"
    )
    contract_number = models.CharField(max_length=30)
    message = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contract_number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "contract"], name="billing_run_failure_once"),
        ]

    def __str__(self) -> str:
        return f"{self.contract_number}: {self.message}"


class BillingRunGroup(models.Model):
    """A group of a run's contracts, billed by a task of its own, so that the groups of a run
    spread over every billing worker (`billing.services.runs.billing_run_dispatch`).

    `done_at` is written in the group's own transaction, with its invoices: a redelivered or
    duplicate task finds it done and writes nothing. The run is closed once no group is left.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="groups")
    position = models.PositiveIntegerField()
    contract_ids = ArrayField(models.UUIDField())
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="billing_run_group_once"),
        ]
        indexes = [
            models.Index(
                fields=["run"], condition=Q(done_at__isnull=True), name="billing_run_group_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.position}"

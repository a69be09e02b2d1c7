"""Organisations, users, broker mandates, notifications and the audit trail."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Self

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class OrganisationKind(models.TextChoices):
    INSURER = "insurer", _("Assureur")
    POLICYHOLDER = "policyholder", _("Assuré (grossiste)")
    BROKER = "broker", _("Courtier")


class Role(models.TextChoices):
    # insurer staff
    ARBITER = "arbiter", _("Arbitre")
    SENIOR_ARBITER = "senior_arbiter", _("Arbitre senior")
    CLAIMS_HANDLER = "claims_handler", _("Gestionnaire sinistres")
    FINANCE_OPS = "finance_ops", _("Opérations financières")
    ADMIN = "admin", _("Administrateur")
    # policyholder users
    CREDIT_MANAGER = "credit_manager", _("Credit manager")
    FINANCE = "finance", _("Finance")
    ORG_ADMIN = "org_admin", _("Administrateur de l'organisation")
    # broker users
    BROKER = "broker", _("Courtier")


ROLES_BY_KIND: dict[str, set[str]] = {
    OrganisationKind.INSURER: {
        Role.ARBITER,
        Role.SENIOR_ARBITER,
        Role.CLAIMS_HANDLER,
        Role.FINANCE_OPS,
        Role.ADMIN,
    },
    OrganisationKind.POLICYHOLDER: {Role.CREDIT_MANAGER, Role.FINANCE, Role.ORG_ADMIN},
    OrganisationKind.BROKER: {Role.BROKER},
}


class Organisation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("type"), max_length=20, choices=OrganisationKind.choices)
    name = models.CharField(_("raison sociale"), max_length=200)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    address = models.TextField(_("adresse"), blank=True)
    dedicated_arbiter = models.ForeignKey(
        "portal.User",
        verbose_name=_("arbitre dédié"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dedicated_policyholders",
    )
    # Two-factor sign-in is always required of insurer users; a policyholder's or a broker's
    # admin may require it of every user of the organisation.
    two_factor_required = models.BooleanField(_("double authentification exigée"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["siren"], condition=~Q(siren=""), name="organisation_siren_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind=OrganisationKind.POLICYHOLDER) | Q(dedicated_arbiter__isnull=True),
                name="organisation_arbiter_only_for_policyholders",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_insurer(self) -> bool:
        return self.kind == OrganisationKind.INSURER

    @property
    def is_policyholder(self) -> bool:
        return self.kind == OrganisationKind.POLICYHOLDER

    @property
    def is_broker(self) -> bool:
        return self.kind == OrganisationKind.BROKER


class User(AbstractUser):
    email = models.EmailField(_("e-mail"), unique=True)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices, blank=True)
    authority_amount = models.DecimalField(
        _("pouvoir de décision (EUR)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Montant de top-up au-delà duquel une contre-signature senior est requise."),
    )

    objects: ClassVar[UserManager[Self]] = UserManager()

    class Meta:
        verbose_name = _("utilisateur")

    def __str__(self) -> str:
        return self.get_full_name() or self.email


class Mandate(models.Model):
    """A broker's mandate for a policyholder: valid from `starts_on` to `ends_on` inclusive."""

    broker = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="mandates",
        limit_choices_to={"kind": OrganisationKind.BROKER},
    )
    policyholder = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="broker_mandates",
        limit_choices_to={"kind": OrganisationKind.POLICYHOLDER},
    )
    starts_on = models.DateField(_("début"))
    ends_on = models.DateField(_("fin"), null=True, blank=True)

    class Meta:
        verbose_name = _("mandat de courtage")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="mandate_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.broker} → {self.policyholder}"

    def is_current(self, on: date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)


class TenantOwned(models.Model):
    """Base for every row a policyholder owns.

    The default manager fails closed: a query outside a `django_scopes.scope(policyholder=...)`
    raises `ScopeError`. The scope is entered once per request by `portal.tenancy`, and by tasks
    and commands from the ids they are given; `django_scopes.scopes_disabled()` is the one,
    explicitly named, bypass.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    policyholder = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": OrganisationKind.POLICYHOLDER},
    )

    objects: ClassVar[models.Manager[Self]] = ScopedManager(policyholder="policyholder")

    class Meta:
        abstract = True


class Notification(models.Model):
    """An in-app message for one user about one event; its e-mail is a `Delivery`."""

    event = models.ForeignKey(
        "portal.AuditEvent",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    # The policyholder it is about, if any: a recipient sees it only while that policyholder is
    # in its scope (a broker whose mandate ended no longer reads that client's notifications).
    policyholder = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Messages of one batch ("thread:<id>") share their e-mails: see `portal.outbox`.
    batch_key = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient"], name="notification_once_per_event_recipient"
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class AuditEvent(models.Model):
    """Who did what, when and why. Written by the service that makes the change."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True)
    policyholder = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("En attente")
    SENDING = "sending", _("En cours d'envoi")
    SENT = "sent", _("Envoyé")
    FAILED = "failed", _("Échec")


class Delivery(models.Model):
    """The outbox: one message to send to one recipient on one channel, written in the same
    transaction as the change it tells about, and marked sent by the dispatcher."""

    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="deliveries")
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # A batched delivery waits until the recipient's last e-mail of the batch is a window old.
    batch_key = models.CharField(max_length=80, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a dispatcher claimed it for sending (status `sending`): see `portal.outbox`.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient", "channel"], name="delivery_once_per_channel"
            ),
        ]
        indexes = [
            # The sweep's: pending, or claimed by a sender that may have vanished.
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="delivery_unsent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.recipient_id} {self.status}"


class UserSession(models.Model):
    """A signed-in browser session, as its user sees it on the sessions page. The session itself
    lives in the session engine; this row says whose it is, where it came from and when it was
    last used (refreshed at most once a minute by `portal.sessions.SessionActivityMiddleware`).
    """

    # A public id for URLs: the session key is the credential and never leaves the server.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session_key = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="browser_sessions")
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ip = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("session")
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="usersession_user_seen")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d %H:%M}"

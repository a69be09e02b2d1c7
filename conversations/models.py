"""A policyholder's conversation space with its dedicated arbiter (DESIGN §4 "Dedicated
arbiter"): threads, messages, attachments, read receipts; and who the dedicated arbiter is
over time (a stand-in during an absence), with history.

Threads, messages, attachments, read marks and insurer members are the policyholder's rows
(`TenantOwned`): reachable only through its scope. Who may read a thread is the policy's
business (`portal.policy.can_use_conversations`, `conversations.selectors.participants`).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import Organisation, OrganisationKind, TenantOwned


class AssignmentKind(models.TextChoices):
    DEDICATED = "dedicated", _("Arbitre dédié")
    STAND_IN = "stand_in", _("Suppléant")


class ArbiterAssignment(models.Model):
    """Who was a policyholder's dedicated arbiter (or its stand-in) from when to when. The
    dedicated arbiter in force is also `Organisation.dedicated_arbiter`; a stand-in in force
    answers in its place."""

    policyholder = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        related_name="arbiter_assignments",
        limit_choices_to={"kind": OrganisationKind.POLICYHOLDER},
    )
    arbiter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=AssignmentKind.choices)
    starts_at = models.DateTimeField(_("à partir du"))
    ends_at = models.DateTimeField(_("jusqu'au"), null=True, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("motif"), max_length=200, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["policyholder", "kind", "-starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="assignment_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.policyholder_id} {self.kind} {self.arbiter_id}"


class Thread(TenantOwned):
    """A subject the policyholder (or its broker) and the insurer talk about, optionally linked
    to a request, a buyer, a study or a claim."""

    subject = models.CharField(_("objet"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    request = models.ForeignKey(
        "underwriting.GuaranteeRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="threads",
    )
    buyer = models.ForeignKey(
        "underwriting.Buyer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    study = models.ForeignKey(
        "studies.Study", on_delete=models.SET_NULL, null=True, blank=True, related_name="threads"
    )
    claim = models.ForeignKey(
        "claims.Claim", on_delete=models.SET_NULL, null=True, blank=True, related_name="threads"
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    # The oldest client message the insurer has not answered yet (None: nothing waits).
    waiting_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("fil d'échange")
        ordering = ["-last_message_at"]
        indexes = [
            models.Index(
                fields=["policyholder", "-last_message_at"], name="thread_by_policyholder"
            ),
            models.Index(
                fields=["waiting_since"],
                condition=Q(waiting_since__isnull=False),
                name="thread_waiting",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class Side(models.TextChoices):
    CLIENT = "client", _("Client")
    INSURER = "insurer", _("Assureur")


class Message(TenantOwned):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=10, choices=Side.choices)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("message")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["thread", "created_at"], name="message_by_thread")]

    def __str__(self) -> str:
        return self.body[:60]


def _attachment_path(instance: Attachment, filename: str) -> str:
    # Never the uploaded name: a random path, served only through the thread's scope.
    return f"conversations/{instance.policyholder_id}/{uuid.uuid4().hex}"


class Attachment(TenantOwned):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path, max_length=200)
    name = models.CharField(_("nom"), max_length=200)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("pièce jointe")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class ThreadRead(TenantOwned):
    """How far a user has read a thread: a message is read by the user when it is no later
    than `read_until` (read receipts, unread counts)."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="thread_read_once"),
        ]

    def __str__(self) -> str:
        return f"{self.thread_id} {self.user_id} {self.read_until}"


class ThreadMember(TenantOwned):
    """An insurer staff member who joined a thread (the dedicated arbiter and its stand-in are
    participants without joining)."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="thread_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.thread_id} {self.user_id}"

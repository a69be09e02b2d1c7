"""Supporting documents: PDF, PNG or JPEG, recognised by their content (never by their name),
size-limited, stored through Django's storage under a random name and served only through the
claim's scope."""

from __future__ import annotations

import hashlib
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from claims.events import ClaimEvent
from claims.models import ClaimDocument, ClaimInvoice, ClaimStatus
from claims.services.declarations import lock_claim
from portal import files, policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User

ALLOWED = (files.PDF, files.PNG, files.JPEG)


def document_type(content: bytes) -> str:
    """The document's type from its bytes (PDF, PNG or JPEG), or RuleViolation (field `file`)."""
    return files.content_type(content, allowed=ALLOWED)


@transaction.atomic(durable=True)
def claim_document_add(
    *,
    claim_id: UUID | str,
    name: str,
    content: bytes,
    actor: User,
    invoice_id: UUID | str | None = None,
) -> ClaimDocument:
    policy.require(policy.can_declare_claims(actor) or policy.can_handle_claims(actor))
    claim = lock_claim(claim_id)
    if claim.status in (ClaimStatus.CLOSED, ClaimStatus.DECLINED):
        raise Conflict(_("Ce sinistre est clos : on n'y ajoute plus de pièces."))
    limit = settings.CLAIM_DOCUMENT_MAX_BYTES
    if not content:
        raise RuleViolation(_("Le fichier est vide."), field="file")
    if len(content) > limit:
        raise RuleViolation(
            _("Pièce trop lourde : %(limit)s Mo au plus.") % {"limit": limit // (1024 * 1024)},
            field="file",
            code="document_too_large",
        )
    content_type = document_type(content)
    invoice = None
    if invoice_id:
        invoice = ClaimInvoice.objects.filter(claim=claim, pk=invoice_id).first()
        if invoice is None:
            raise RuleViolation(_("Facture inconnue sur ce sinistre."), field="invoice")
    document = ClaimDocument(
        policyholder=claim.policyholder,
        claim=claim,
        invoice=invoice,
        name=(name or "piece")[:200],
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=actor,
    )
    document.file.save("piece", ContentFile(content), save=False)
    document.save()
    event_record(
        action=ClaimEvent.DOCUMENT_ADDED,
        actor=actor,
        obj=claim,
        policyholder=claim.policyholder,
        data={"document": str(document.pk), "name": document.name, "type": content_type},
    )
    return document

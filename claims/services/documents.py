"""Supporting documents: PDF, PNG or JPEG, recognised by their content (never by their name),
size-limited, stored through Django's storage under a random name and served only through the
claim's scope."""

from __future__ import annotations

import hashlib
import io
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from claims.events import ClaimEvent
from claims.models import ClaimDocument, ClaimInvoice, ClaimStatus
from claims.services.declarations import lock_claim
from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"


def document_type(content: bytes) -> str:
    """The document's type from its bytes, or RuleViolation (field `file`)."""
    refused = RuleViolation(
        _("Pièce refusée : seuls les PDF, PNG et JPEG sont acceptés (vérifié sur le contenu)."),
        field="file",
        code="document_type",
    )
    if content.startswith(b"%PDF-"):
        if b"%%EOF" not in content[-2048:]:
            raise RuleViolation(
                _("Ce PDF est incomplet (pas de fin de fichier) : enregistrez-le à nouveau."),
                field="file",
                code="document_damaged",
            )
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n") or content.startswith(b"\xff\xd8\xff"):
        try:
            with Image.open(io.BytesIO(content)) as image:
                image.verify()
                kind = image.format
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise RuleViolation(
                _("Cette image est illisible : enregistrez-la à nouveau."),
                field="file",
                code="document_damaged",
            ) from error
        if kind == "PNG":
            return PNG
        if kind in ("JPEG", "MPO"):
            return JPEG
    raise refused


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

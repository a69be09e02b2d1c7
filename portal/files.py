"""What an uploaded file is, read from its bytes (never from its name): PDF, PNG, JPEG, XLSX,
CSV. Shared by claims' documents and conversations' attachments."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from portal.errors import RuleViolation

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"

LABELS = {PDF: "PDF", PNG: "PNG", JPEG: "JPEG", XLSX: "XLSX", CSV: "CSV"}


def _damaged(message: str) -> RuleViolation:
    return RuleViolation(message, field="file", code="document_damaged")


def _image(content: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _damaged(_("Cette image est illisible : enregistrez-la à nouveau.")) from error
    return {"PNG": PNG, "JPEG": JPEG, "MPO": JPEG}.get(kind or "")


def _xlsx(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return None
    return XLSX if "[Content_Types].xml" in names and "xl/workbook.xml" in names else None


def _csv(content: bytes) -> str | None:
    if b"\x00" in content[:4096]:
        return None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content[:65536].decode(encoding)
        except UnicodeDecodeError:
            continue
        first = text.splitlines()[0] if text else ""
        return CSV if (";" in first or "," in first) else None
    return None


def content_type(content: bytes, *, allowed: Collection[str]) -> str:
    """The type of `content` among `allowed`, or RuleViolation (field `file`)."""
    found: str | None = None
    if content.startswith(b"%PDF-"):
        if b"%%EOF" not in content[-2048:]:
            raise _damaged(
                _("Ce PDF est incomplet (pas de fin de fichier) : enregistrez-le à nouveau.")
            )
        found = PDF
    elif content.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        found = _image(content)
    elif content.startswith(b"PK\x03\x04"):
        found = _xlsx(content)
    elif CSV in allowed:
        found = _csv(content)
    if found is None or found not in allowed:
        raise RuleViolation(
            _("Fichier refusé : formats acceptés %(formats)s, vérifiés sur le contenu.")
            % {"formats": ", ".join(LABELS[kind] for kind in allowed)},
            field="file",
            code="document_type",
        )
    return found

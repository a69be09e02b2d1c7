"""The A4 PDF of an invoice or credit note, rendered from the document's own rows.

The output is deterministic: the PDF dates come from the issue time (`dcterms.created` /
`dcterms.modified` metas), no identifier is generated, and the fonts are the system's DejaVu.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from num2words import num2words
from weasyprint import HTML

from billing.models import Invoice


def amount_in_words(amount: Decimal) -> str:
    words = num2words(abs(amount), lang="fr", to="currency", currency="EUR")
    return words.replace("zéro euros", "zéro euro")


def invoice_pdf_html(*, invoice: Invoice) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string(
            "billing/invoice_pdf.html",
            {
                "invoice": invoice,
                "lines": list(invoice.lines.order_by("position")),
                "total_in_words": amount_in_words(invoice.total),
                "created": invoice.issued_at.replace(microsecond=0).isoformat(),
            },
        )


def invoice_pdf_render(*, invoice: Invoice) -> bytes:
    html = invoice_pdf_html(invoice=invoice)
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()

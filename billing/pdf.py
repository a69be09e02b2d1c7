"""The A4 PDF of an invoice or credit note, rendered from the document's own rows.

Deterministic: the PDF dates come from the issue time (`dcterms.created` / `dcterms.modified`
metas), no identifier is generated, and the fonts are the system's DejaVu (no @font-face).

Fast, because a month-end renders ten thousand of them: a worker loads the fonts and parses the
shared stylesheet once (`_renderer`) and every render reuses them; the amounts are formatted in
Python (`portal.money`) rather than by template filters; the invoice lines are monospaced text,
five lines to a table cell, instead of a row of five cells per line, as WeasyPrint's layout time
grows with the boxes it lays out; the tables have a fixed layout (no min/max-content pass over
every line, the parties block included); no italic, so three fonts to subset and embed, not
four; the process's long-lived objects are frozen out of the cyclic collector after the first
set-up (`_renderer`). A 100-line invoice costs about 0.09 s of CPU, against about 0.3 s with a
cell per column (`make bench ARGS=pdfs`). WeasyPrint's own options do not help: uncompressed
streams save 3 ms for eight times the bytes, full fonts and hinting cost more.
"""

from __future__ import annotations

import gc
import textwrap
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from num2words import num2words
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from billing.models import Invoice, InvoiceLine
from portal.money import eur, grouped, percent

LINE_WIDTH = 104  # characters of DejaVu Sans Mono 8 pt across the A4 text width
GAP = "  "
# Lines per table cell: the layout's cost is per box, and a band of text lines is one box.
LINES_PER_BAND = 5


def amount_in_words(value: Decimal) -> str:
    words = num2words(abs(value), lang="fr", to="currency", currency="EUR")
    return words.replace("zéro euros", "zéro euro")


@dataclass(frozen=True)
class InsurerIdentity:
    """What a French finance department files about the insurer, from settings."""

    legal_name: str
    legal_form: str
    share_capital: str
    rcs: str
    registered_office: str
    supervision: str
    late_interest: str
    recovery_indemnity: str


def insurer_identity() -> InsurerIdentity:
    return InsurerIdentity(
        legal_name=settings.INSURER_LEGAL_NAME,
        legal_form=settings.INSURER_LEGAL_FORM,
        share_capital=eur(settings.INSURER_SHARE_CAPITAL, places=0),
        rcs=settings.INSURER_RCS,
        registered_office=settings.INSURER_REGISTERED_OFFICE,
        supervision=settings.INSURER_SUPERVISION,
        late_interest=settings.INVOICE_LATE_INTEREST,
        recovery_indemnity=eur(settings.INVOICE_RECOVERY_INDEMNITY, places=0),
    )


@dataclass(frozen=True)
class Party:
    name: str
    address: str
    siren: str


@dataclass(frozen=True)
class LinesTable:
    """The lines as fixed-width text: a header, and bands of LINES_PER_BAND lines, each band one
    table cell (shaded every other band for the eye; a wrapped name adds a text line)."""

    header: str
    bands: list[str]


def _columns(cells: Sequence[str], widths: Sequence[int], right: Sequence[bool]) -> str:
    return GAP.join(
        cell.rjust(width) if align_right else cell.ljust(width)
        for cell, width, align_right in zip(cells, widths, right, strict=True)
    ).rstrip()


def lines_table(lines: Iterable[InvoiceLine], *, prorata: bool) -> LinesTable:
    titles = [_("Acheteur"), _("SIREN"), _("Assiette (€)"), _("Prime (€)")]
    right = [False, False, True, True]
    if prorata:
        titles.insert(3, _("Jours"))
        right.insert(3, True)
    cells = []
    for line in lines:
        row = [
            line.label or line.buyer_name,
            line.buyer_identifier,
            grouped(line.base),
            grouped(line.premium),
        ]
        if prorata:
            row.insert(3, "" if line.days_in_force is None else str(line.days_in_force))
        cells.append(row)
    widths = [max([len(title), *(len(row[i]) for row in cells)]) for i, title in enumerate(titles)]
    widths[0] = max(12, LINE_WIDTH - sum(widths[1:]) - len(GAP) * (len(widths) - 1))
    rows = []
    for row in cells:
        names = textwrap.wrap(row[0], widths[0]) or [""]
        first = _columns([names[0], *row[1:]], widths, right)
        rows.append("\n".join([first, *names[1:]]))
    bands = [
        "\n".join(rows[start : start + LINES_PER_BAND])
        for start in range(0, len(rows), LINES_PER_BAND)
    ]
    return LinesTable(header=_columns(titles, widths, right), bands=bands)


_renderers = threading.local()


def _renderer() -> tuple[FontConfiguration, CSS]:
    """The fonts (the fontconfig set-up every render would otherwise repeat) and the shared
    document styles, parsed once per thread: once per Celery worker process, and never shared
    between the threads of a development server (Pango's font map is not thread-safe)."""
    cached: tuple[FontConfiguration, CSS] | None = getattr(_renderers, "cached", None)
    if cached is None:
        fonts = FontConfiguration()
        cached = (fonts, CSS(string=render_to_string("_pdf_styles.html"), font_config=fonts))
        _renderers.cached = cached
        # A render makes a hundred thousand short-lived objects, so the cyclic collector runs
        # full collections every few renders; each traversed the whole process (Django, Celery,
        # the fonts), ~17 ms a render. What lives now lives as long as the process: out of them.
        gc.collect()
        gc.freeze()
    return cached


def html_to_pdf(html: str) -> bytes:
    """The PDF of a document whose own `<style>` holds only what differs from the shared one."""
    fonts, stylesheet = _renderer()
    document = HTML(string=html, base_url=str(settings.BASE_DIR))
    return bytes(document.write_pdf(stylesheets=[stylesheet], font_config=fonts))


def invoice_pdf_html(*, invoice: Invoice, lines: Iterable[InvoiceLine] | None = None) -> str:
    """The document's HTML; `lines` stand in for the invoice's own (the benchmarks' 10- and
    1 000-line invoices)."""
    contract = invoice.contract
    if lines is None:
        # The invoice among the fields read: the related manager hands every line its invoice,
        # and a deferred `invoice_id` would cost a query per line.
        lines = invoice.lines.order_by("position").only(
            "invoice", "label", "buyer_name", "buyer_identifier", "base", "days_in_force", "premium"
        )
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string(
            "billing/invoice_pdf.html",
            {
                "invoice": invoice,
                "contract": contract,
                "issuer": Party(
                    invoice.insurer_name, invoice.insurer_address, invoice.insurer_siren
                ),
                "policyholder": Party(
                    invoice.policyholder_name,
                    invoice.policyholder_address,
                    invoice.policyholder_siren,
                ),
                "identity": insurer_identity(),
                "table": lines_table(lines, prorata=invoice.is_prorata),
                "rate_percent": percent(invoice.monthly_rate),
                "tax_percent": percent(invoice.tax_rate) if invoice.tax_rate else None,
                "premium_total": eur(invoice.premium_total),
                "minimum_premium": eur(invoice.minimum_premium or 0),
                "minimum_adjustment": eur(invoice.minimum_adjustment),
                "tax_amount": eur(invoice.tax_amount),
                "total": eur(invoice.total),
                "total_in_words": amount_in_words(invoice.total),
                "created": invoice.issued_at.replace(microsecond=0).isoformat(),
            },
        )


def invoice_pdf_render(*, invoice: Invoice, lines: Iterable[InvoiceLine] | None = None) -> bytes:
    return html_to_pdf(invoice_pdf_html(invoice=invoice, lines=lines))

"""Reading a broker's buyer list (issue 8 "Upload"): CSV or XLSX, recognised by content, never by
name, into numbered raw lines. Nothing here touches the database: a file that cannot be read
raises `FileRefused` and the caller stores nothing."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from itertools import islice

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from portal.errors import RuleViolation
from studies.columns import AMOUNTS, FORMULA_STARTS, REQUIRED, Column, column_of
from studies.numbers import amount_from_cell

MB = 1024 * 1024


class FileKind(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True)
class ParseLimits:
    max_bytes: int = 10 * MB
    max_lines: int = 50_000
    # XLSX, judged from the zip directory before anything is decompressed.
    max_uncompressed_bytes: int = 50 * MB
    max_parts: int = 200
    # Spreadsheet XML compresses 10 to 30 times; a bomb, thousands of times. Small parts are
    # not judged by ratio: a 100 KB part of repeated cells is harmless whatever its ratio.
    max_compression_ratio: int = 200
    ratio_floor_bytes: int = 1 * MB
    # A title or a date above the header is common: the header is looked for in these rows.
    header_search_rows: int = 10


DEFAULT_LIMITS = ParseLimits()


class FileRefused(RuleViolation):
    """The file cannot be read as a buyer list; `code` says why, the message says how to fix it."""

    default_code = "file_refused"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, field="file", code=reason)


@dataclass(frozen=True, slots=True)
class BuyerLine:
    """One data line as the file gives it: the file's own line number (the header's line is
    usually 1), the cell texts of each logical column ("" when empty or absent) and the amounts
    read from them (None when empty or not a number)."""

    number: int
    identifier: str
    name: str
    exposure_text: str
    primary_text: str
    top_up_text: str
    exposure: Decimal | None
    primary: Decimal | None
    top_up: Decimal | None

    def text(self, column: Column) -> str:
        text: str = getattr(self, _TEXT_FIELDS[column])
        return text

    def amount(self, column: Column) -> Decimal | None:
        """The amount read from an amount column (None for the others)."""
        field = _AMOUNT_FIELDS.get(column)
        amount: Decimal | None = getattr(self, field) if field else None
        return amount


_TEXT_FIELDS = {
    Column.IDENTIFIER: "identifier",
    Column.NAME: "name",
    Column.EXPOSURE: "exposure_text",
    Column.PRIMARY: "primary_text",
    Column.TOP_UP: "top_up_text",
}
_AMOUNT_FIELDS = {Column.EXPOSURE: "exposure", Column.PRIMARY: "primary", Column.TOP_UP: "top_up"}


@dataclass(frozen=True)
class ParsedFile:
    kind: FileKind
    # The user's own header text for each column found; errors name the column this way.
    headers: Mapping[Column, str]
    header_line: int
    lines: tuple[BuyerLine, ...]
    ignored_headers: tuple[str, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    # True when the name says one type and the content is the other (read as the content says).
    renamed: bool = False

    def label(self, column: Column) -> str:
        """The user's header for the column, or the template's when the file has none."""
        return self.headers.get(column) or column.label

    @property
    def has_no_buyer_line(self) -> bool:
        return not self.lines


Cells = Sequence[object]


def read_buyer_list(
    *, content: bytes, filename: str, limits: ParseLimits = DEFAULT_LIMITS
) -> ParsedFile:
    """Read a CSV or XLSX buyer list. Raises FileRefused, with the reason in French."""
    if len(content) > limits.max_bytes:
        raise FileRefused(
            _("Le fichier pèse %(size)s Mo : la limite est %(limit)s Mo. Découpez-le en plusieurs.")
            % {"size": _megabytes(len(content)), "limit": _megabytes(limits.max_bytes)},
            reason="too_large",
        )
    if not content.strip():
        message = _("Le fichier « %(name)s » est vide.") % {"name": filename}
        raise FileRefused(message, reason="empty")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if content[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        parsed = _read_xlsx(content, filename=filename, limits=limits)
        return _renamed(parsed, extension)
    _refuse_known_binaries(content, filename)
    text, encoding = _decode(content, filename)
    return _renamed(_read_csv(text, encoding=encoding, limits=limits), extension)


def _renamed(parsed: ParsedFile, extension: str) -> ParsedFile:
    other = {FileKind.CSV: ("xlsx", "xls", "xlsm"), FileKind.XLSX: ("csv", "txt", "tsv")}
    if extension not in other[parsed.kind]:
        return parsed
    return replace(parsed, renamed=True)


def _megabytes(size: int) -> str:
    """In Mo, to the tenth above: a file just over the limit never reads as the limit itself."""
    tenths = -(-size * 10 // MB)
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10},{tenths % 10}"


def _wrong_type(filename: str, what: str) -> FileRefused:
    return FileRefused(
        _(
            "Le fichier « %(name)s » est %(what)s, quel que soit son nom : déposez un fichier CSV "
            "ou un classeur Excel .xlsx."
        )
        % {"name": filename, "what": what},
        reason="wrong_type",
    )


# ---------------------------------------------------------------------------------------- CSV

_BINARY_SIGNATURES: tuple[tuple[bytes, Promise], ...] = (
    (b"%PDF", gettext_lazy("un document PDF")),
    (b"\x89PNG", gettext_lazy("une image PNG")),
    (b"\xff\xd8\xff", gettext_lazy("une image JPEG")),
    (b"GIF8", gettext_lazy("une image GIF")),
    (
        b"\xd0\xcf\x11\xe0",
        gettext_lazy("un document Office 97-2003 (.xls) : enregistrez-le en .xlsx"),
    ),
    (b"Rar!", gettext_lazy("une archive RAR")),
    (b"\x1f\x8b", gettext_lazy("une archive gzip")),
    (b"7z\xbc\xaf", gettext_lazy("une archive 7-Zip")),
)


def _refuse_known_binaries(content: bytes, filename: str) -> None:
    for signature, what in _BINARY_SIGNATURES:
        if content.startswith(signature):
            raise _wrong_type(filename, str(what))


def _decode(content: bytes, filename: str) -> tuple[str, str]:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        # Windows-1252 maps almost every byte: it is the fallback, tried last.
        candidates = ("utf-8-sig", "cp1252")
    for encoding in candidates:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text.lstrip("\ufeff \t\r\n")[:1] == "<":
            raise _wrong_type(filename, _("une page HTML ou XML, pas un tableau"))
        if _looks_like_text(text):
            return text, encoding
        break
    raise _wrong_type(filename, _("un fichier binaire, pas un tableau"))


def _looks_like_text(text: str) -> bool:
    if "\x00" in text:
        return False
    sample = text[:8192]
    controls = sum(1 for char in sample if ord(char) < 32 and char not in "\t\r\n\f\x1a")
    return controls <= len(sample) // 100


_DELIMITERS = (";", ",", "\t")


def _read_csv(text: str, *, encoding: str, limits: ParseLimits) -> ParsedFile:
    delimiter = _sniff_delimiter(text, limits)

    def rows() -> Iterator[tuple[int, Cells]]:
        # Line numbers count records, as a spreadsheet numbers its rows (a quoted cell may
        # hold a line break and still be one row).
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as error:
            raise FileRefused(
                _("Le fichier CSV est illisible à la ligne %(line)s (%(error)s).")
                % {"line": reader.line_num, "error": error},
                reason="not_a_table",
            ) from None

    return _read_table(
        rows(), kind=FileKind.CSV, limits=limits, encoding=encoding, delimiter=delimiter
    )


def _sniff_delimiter(text: str, limits: ParseLimits) -> str:
    """The separator under which a header row names every required column; failing that, the
    one the first non-blank line uses most (the missing columns are then reported with it)."""
    for delimiter in _DELIMITERS:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            head = list(islice(reader, limits.header_search_rows * 3))
        except csv.Error:
            continue
        if any(_header_columns(row)[0].keys() >= set(REQUIRED) for row in head):
            return delimiter
    first = next((line for line in text.splitlines() if line.strip()), "")
    return max(_DELIMITERS, key=first.count)


# --------------------------------------------------------------------------------------- XLSX


def _read_xlsx(content: bytes, *, filename: str, limits: ParseLimits) -> ParsedFile:
    _check_zip_directory(content, filename=filename, limits=limits)
    from openpyxl import load_workbook
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    unreadable = _(
        "Le classeur « %(name)s » est illisible (%(error)s). Enregistrez-le à nouveau "
        "depuis Excel ou déposez-le en CSV."
    )
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a damaged file
        raise FileRefused(
            unreadable % {"name": filename, "error": type(error).__name__}, reason="unreadable"
        ) from None
    try:
        sheets = [sheet for sheet in workbook.worksheets if isinstance(sheet, ReadOnlyWorksheet)]
        if not sheets:
            raise FileRefused(
                _("Le classeur « %(name)s » n'a aucune feuille de calcul.") % {"name": filename},
                reason="not_a_table",
            )
        sheet = sheets[0]
        # Some producers write a wrong dimension ("A1:A1"); trusting it would drop cells.
        sheet.reset_dimensions()

        def rows() -> Iterator[tuple[int, Cells]]:
            iterator = enumerate(sheet.iter_rows(values_only=True), start=1)
            while True:
                try:
                    row = next(iterator)
                except StopIteration:
                    return
                except Exception as error:  # a damaged sheet part
                    raise FileRefused(
                        unreadable % {"name": filename, "error": type(error).__name__},
                        reason="unreadable",
                    ) from None
                yield row

        return _read_table(rows(), kind=FileKind.XLSX, limits=limits)
    finally:
        workbook.close()


def _check_zip_directory(content: bytes, *, filename: str, limits: ParseLimits) -> None:
    """Bounds checked from the central directory alone, before any part is decompressed.
    zipfile stops each part at its declared size and checks its CRC, so a directory that
    understates a part makes the read fail rather than overflow."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise _wrong_type(filename, _("une archive zip endommagée")) from None
    with archive:
        parts = archive.infolist()
    out_of_bounds = _(
        "Le classeur « %(name)s » est refusé : %(why)s. Enregistrez-le à nouveau depuis Excel "
        "ou déposez-le en CSV."
    )
    if len(parts) > limits.max_parts:
        why = _("%(count)s parties, la limite est %(limit)s") % {
            "count": len(parts),
            "limit": limits.max_parts,
        }
        raise FileRefused(out_of_bounds % {"name": filename, "why": why}, reason="xlsx_bounds")
    total = sum(part.file_size for part in parts)
    if total > limits.max_uncompressed_bytes:
        why = _("%(size)s Mo une fois décompressé, la limite est %(limit)s Mo") % {
            "size": _megabytes(total),
            "limit": _megabytes(limits.max_uncompressed_bytes),
        }
        raise FileRefused(out_of_bounds % {"name": filename, "why": why}, reason="xlsx_bounds")
    for part in parts:
        if (
            part.file_size > limits.ratio_floor_bytes
            and part.file_size > limits.max_compression_ratio * max(part.compress_size, 1)
        ):
            why = _("la partie %(part)s se décompresse %(ratio)s fois, la limite est %(limit)s") % {
                "part": part.filename,
                "ratio": part.file_size // max(part.compress_size, 1),
                "limit": limits.max_compression_ratio,
            }
            raise FileRefused(out_of_bounds % {"name": filename, "why": why}, reason="xlsx_bounds")
    names = {part.filename for part in parts}
    if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
        raise _wrong_type(filename, _("une archive zip qui n'est pas un classeur Excel .xlsx"))


# ---------------------------------------------------------------------------- both: the table


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # A verdicts export made a formula-like cell safe with a `'`: a corrected export
        # uploaded again gives back the text the user typed.
        if value[:1] == "'" and value[1:2] and value[1:].startswith(FORMULA_STARTS):
            value = value[1:]
        return value.strip()
    if isinstance(value, bool):
        return _("VRAI") if value else _("FAUX")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _identifier_text(value: object) -> str:
    """A SIREN or SIRET typed into a number cell has lost its leading zeros: give them back."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        digits = str(value)
        if len(digits) < 9:
            return digits.zfill(9)
        if 9 < len(digits) < 14:
            return digits.zfill(14)
        return digits
    return _cell_text(value)


def _header_columns(row: Cells) -> tuple[dict[Column, int], list[str]]:
    """Column → index of the first header naming it; the other headers, ignored."""
    found: dict[Column, int] = {}
    ignored: list[str] = []
    for index, cell in enumerate(row):
        header = _cell_text(cell)
        column = column_of(header)
        if column is not None and column not in found:
            found[column] = index
        elif header:
            ignored.append(header)
    return found, ignored


def _is_blank(row: Cells) -> bool:
    return all(not _cell_text(cell) for cell in row)


def _read_table(
    rows: Iterator[tuple[int, Cells]],
    *,
    kind: FileKind,
    limits: ParseLimits,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> ParsedFile:
    header_line, header_row, columns, ignored = _find_header(rows, limits)
    headers = {column: _cell_text(header_row[index]) for column, index in columns.items()}
    lines: list[BuyerLine] = []
    for number, row in rows:
        line = _buyer_line(number, row, columns)
        if line is None:
            continue
        lines.append(line)
        if len(lines) > limits.max_lines:
            raise FileRefused(
                _(
                    "Le fichier compte plus de %(limit)s lignes d'acheteurs (limite atteinte à la "
                    "ligne %(line)s) : découpez-le en plusieurs fichiers."
                )
                % {"limit": f"{limits.max_lines:,}".replace(",", "\u202f"), "line": number},
                reason="too_many_lines",
            )
    return ParsedFile(
        kind=kind,
        headers=headers,
        header_line=header_line,
        lines=tuple(lines),
        ignored_headers=tuple(ignored),
        encoding=encoding,
        delimiter=delimiter,
    )


def _find_header(
    rows: Iterator[tuple[int, Cells]], limits: ParseLimits
) -> tuple[int, Cells, dict[Column, int], list[str]]:
    best: tuple[int, Cells, dict[Column, int], list[str]] | None = None
    seen = 0
    for number, row in rows:
        if _is_blank(row):
            continue
        columns, ignored = _header_columns(row)
        if columns.keys() >= set(REQUIRED):
            return number, row, columns, ignored
        if best is None or len(columns) > len(best[2]):
            best = (number, row, columns, ignored)
        seen += 1
        if seen >= limits.header_search_rows:
            break
    if best is None:
        raise FileRefused(_("Le fichier ne contient aucune ligne."), reason="empty")
    missing = [column.label for column in REQUIRED if column not in best[2]]
    raise FileRefused(
        ngettext(
            "Colonne obligatoire absente : %(missing)s. La ligne d'en-tête doit nommer "
            "l'identifiant (SIREN, SIRET ou n° TVA), la raison sociale, l'encours et la "
            "limite primaire ; le top-up demandé est facultatif.",
            "Colonnes obligatoires absentes : %(missing)s. La ligne d'en-tête doit nommer "
            "l'identifiant (SIREN, SIRET ou n° TVA), la raison sociale, l'encours et la "
            "limite primaire ; le top-up demandé est facultatif.",
            len(missing),
        )
        % {"missing": ", ".join(missing)},
        reason="missing_columns",
    )


def _buyer_line(number: int, row: Cells, columns: Mapping[Column, int]) -> BuyerLine | None:
    def cell(column: Column) -> object:
        index = columns.get(column)
        return row[index] if index is not None and index < len(row) else None

    raw = {column: cell(column) for column in Column}
    texts = {column: _cell_text(value) for column, value in raw.items()}
    if not any(texts.values()):
        return None  # blank lines are skipped silently
    amounts = {
        column: amount_from_cell(texts[column] if isinstance(raw[column], str) else raw[column])
        for column in AMOUNTS
    }
    return BuyerLine(
        number=number,
        identifier=_identifier_text(raw[Column.IDENTIFIER]),
        name=texts[Column.NAME],
        exposure_text=texts[Column.EXPOSURE],
        primary_text=texts[Column.PRIMARY],
        top_up_text=texts[Column.TOP_UP],
        exposure=amounts[Column.EXPOSURE],
        primary=amounts[Column.PRIMARY],
        top_up=amounts[Column.TOP_UP],
    )

"""Reading buyer lists (issue 8 "Upload"): messy real-world files, made here from bytes."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from openpyxl import Workbook

from studies.columns import Column
from studies.numbers import amount_from_cell, parse_amount
from studies.parsing import (
    DEFAULT_LIMITS,
    FileKind,
    FileRefused,
    ParseLimits,
    read_buyer_list,
)

D = Decimal
HEADER = "SIREN;Raison sociale;Encours;Limite primaire;Top-up demandé"


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def refusal(content: bytes, filename: str, limits: ParseLimits = DEFAULT_LIMITS) -> FileRefused:
    with pytest.raises(FileRefused) as caught:
        read_buyer_list(content=content, filename=filename, limits=limits)
    return caught.value


def test_it_reads_semicolons_with_a_bom_and_french_decimals() -> None:
    text = (
        f"{HEADER}\r\n"
        "552 100 554;Grossiste Martin;100 000,00;40\u00a0000,00;40\u202f000\r\n"
        "732829320;Dupont & Fils;1.234,56;1234.5;\r\n"
    )
    parsed = read_buyer_list(content=text.encode("utf-8-sig"), filename="acheteurs.csv")

    assert (parsed.kind, parsed.delimiter, parsed.encoding) == (FileKind.CSV, ";", "utf-8-sig")
    first, second = parsed.lines
    assert parsed.headers[Column.IDENTIFIER] == "SIREN"  # the BOM is not part of the header
    assert (first.number, first.identifier, first.name) == (2, "552 100 554", "Grossiste Martin")
    assert (first.exposure, first.primary, first.top_up) == (D("100000"), D("40000"), D("40000"))
    assert (second.exposure, second.primary, second.top_up) == (D("1234.56"), D("1234.50"), None)
    assert second.top_up_text == ""


def test_it_reads_windows_1252_accents() -> None:
    text = (
        "SIREN;Raison sociale;Encours;Limite primaire\r\n"
        "552100554;Société Générale;50 000;20 000\r\n"
        "732829320;Électro Dépôt;10 000 €;5 000 €\r\n"
    )
    parsed = read_buyer_list(content=text.encode("cp1252"), filename="liste.csv")

    assert parsed.encoding == "cp1252"
    assert [line.name for line in parsed.lines] == ["Société Générale", "Électro Dépôt"]
    assert parsed.lines[1].exposure == D("10000")


def test_it_reads_commas_with_quoted_fields() -> None:
    text = (
        "siren,nom,encours,limite primaire\n"
        '552100554,"Martin, Durand et ""Cie""","12 500,50",5000\n'
    )
    (line,) = read_buyer_list(content=text.encode(), filename="l.csv").lines

    assert line.name == 'Martin, Durand et "Cie"'
    assert line.exposure == D("12500.50")


def test_it_reads_tab_separated_text() -> None:
    text = "SIREN\tNom\tEncours\tLimite primaire\n552100554\tMartin\t1 000\t500\n"
    parsed = read_buyer_list(content=text.encode(), filename="l.txt")

    assert parsed.delimiter == "\t"
    assert parsed.lines[0].primary == D("500")


def test_it_reads_an_xlsx_built_in_memory() -> None:
    content = xlsx(
        [
            ["Identifiant", "Raison sociale", "Encours", "Limite primaire", "Top-up demandé"],
            ["552 100 554", "Martin", 100000, 40000.5, "40 000,00"],
            # A SIREN typed into a number cell loses its leading zero; a SIRET as a float.
            [32829320, "Zéro devant", 1234.565, 1000, None],
            [55210055400013.0, "Siret", 10, 5, None],
        ]
    )
    parsed = read_buyer_list(content=content, filename="acheteurs.xlsx")

    assert parsed.kind == FileKind.XLSX
    first, second, third = parsed.lines
    assert (first.exposure, first.primary, first.top_up) == (D("100000"), D("40000.50"), D("40000"))
    assert second.identifier == "032829320"
    # From the cell's text (1234.565), half up; float arithmetic would give 1234.56.
    assert second.exposure == D("1234.57")
    assert third.identifier == "55210055400013"


def test_it_finds_the_header_below_a_title_row() -> None:
    text = "Liste des acheteurs au 31/12;;;\n;;;\nSIREN;Nom;Encours;Limite primaire\n1;a;2;3\n"
    parsed = read_buyer_list(content=text.encode(), filename="l.csv")

    assert parsed.header_line == 3
    assert parsed.lines[0].number == 4


def test_it_skips_blank_lines_and_keeps_the_file_line_numbers() -> None:
    text = f"{HEADER}\n552100554;A;1;1;\n\n;;;;\n   ;  ;;;\n732829320;B;2;2;\n"
    parsed = read_buyer_list(content=text.encode(), filename="l.csv")

    assert [line.number for line in parsed.lines] == [2, 6]


def test_it_skips_blank_rows_of_an_xlsx_and_keeps_the_row_numbers() -> None:
    rows: list[list[object]] = [
        ["SIREN", "Nom", "Encours", "Limite primaire"],
        [552100554, "A", 1, 1],
        [None, None, None, None],
        [732829320, "B", 2, 2],
    ]
    parsed = read_buyer_list(content=xlsx(rows), filename="l.xlsx")

    assert [line.number for line in parsed.lines] == [2, 4]


def test_a_line_with_only_an_unknown_column_filled_is_blank() -> None:
    text = "SIREN;Nom;Encours;Limite primaire;Commentaire\n;;;;à revoir\n552100554;A;1;1;\n"
    parsed = read_buyer_list(content=text.encode(), filename="l.csv")

    assert [line.number for line in parsed.lines] == [3]
    assert parsed.ignored_headers == ("Commentaire",)


@pytest.mark.parametrize("filename", ["vide.csv", "vide.xlsx"])
def test_a_header_only_file_has_no_buyer_line(filename: str) -> None:
    content = (
        xlsx([["SIREN", "Nom", "Encours", "Limite primaire"]])
        if filename.endswith("xlsx")
        else f"{HEADER}\r\n\r\n".encode()
    )
    parsed = read_buyer_list(content=content, filename=filename)

    assert parsed.has_no_buyer_line
    assert parsed.lines == ()


def test_it_reads_a_csv_renamed_xlsx_as_a_csv() -> None:
    text = f"{HEADER}\n552100554;Martin;1 000;500;\n"
    parsed = read_buyer_list(content=text.encode(), filename="acheteurs.xlsx")

    assert parsed.kind == FileKind.CSV and parsed.renamed
    assert parsed.lines[0].name == "Martin"


def test_it_reads_an_xlsx_renamed_csv_as_an_xlsx() -> None:
    content = xlsx([["SIREN", "Nom", "Encours", "Limite primaire"], [552100554, "M", 2, 1]])
    parsed = read_buyer_list(content=content, filename="acheteurs.csv")

    assert parsed.kind == FileKind.XLSX and parsed.renamed


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (_zip({"notes.txt": b"SIREN;Nom"}), "zip qui n'est pas un classeur"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), ".xls"),
        (b"\x00\x01\x02\x03binary\x00\x00", "binaire"),
        (b"<html><table><tr><td>SIREN</td></tr></table></html>", "HTML"),
    ],
)
def test_it_refuses_a_file_of_the_wrong_type_whatever_its_name(content: bytes, says: str) -> None:
    error = refusal(content, "acheteurs.xlsx")

    assert error.code == "wrong_type"
    assert says in error.message and "acheteurs.xlsx" in error.message


def test_it_refuses_a_damaged_xlsx() -> None:
    content = _zip({"[Content_Types].xml": b"<nope", "xl/workbook.xml": b"<nope"})

    assert refusal(content, "abime.xlsx").code == "unreadable"


def test_it_refuses_an_oversized_file() -> None:
    content = b"a" * (DEFAULT_LIMITS.max_bytes + 1)
    error = refusal(content, "gros.csv")

    assert error.code == "too_large"
    assert "10,1 Mo" in error.message and "limite est 10 Mo" in error.message


def test_it_refuses_more_lines_than_the_limit() -> None:
    text = HEADER + "\n" + "552100554;A;1;1;\n" * 4
    error = refusal(text.encode(), "l.csv", ParseLimits(max_lines=3))

    assert error.code == "too_many_lines"
    assert "3 lignes" in error.message and "ligne 5" in error.message


def _zip_bomb(size: int, *, extra_parts: int = 0) -> bytes:
    """An XLSX-looking zip whose sheet part is `size` zeros, streamed so memory stays small."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        for index in range(extra_parts):
            archive.writestr(f"xl/media/image{index}.png", b"x")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            chunk = bytes(1024 * 1024)
            for _ in range(size // len(chunk)):
                part.write(chunk)
    return buffer.getvalue()


def _no_decompression(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse_to_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("a part was opened: the check must use the zip directory alone")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse_to_open)


def test_it_refuses_a_zip_bomb_named_xlsx_from_its_directory_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = _zip_bomb(64 * 1024 * 1024)
    assert len(content) < 200_000
    _no_decompression(monkeypatch)

    error = refusal(content, "acheteurs.xlsx")

    assert error.code == "xlsx_bounds"
    assert "décompressé" in error.message and "50 Mo" in error.message


def test_it_refuses_an_xlsx_part_with_an_absurd_compression_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    content = _zip_bomb(8 * 1024 * 1024)  # under the total bound, but ~1000 times compressed
    _no_decompression(monkeypatch)

    error = refusal(content, "acheteurs.xlsx")

    assert error.code == "xlsx_bounds"
    assert "xl/worksheets/sheet1.xml" in error.message


def test_it_refuses_an_xlsx_with_too_many_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    content = _zip_bomb(0, extra_parts=DEFAULT_LIMITS.max_parts)
    _no_decompression(monkeypatch)

    error = refusal(content, "acheteurs.xlsx")

    assert error.code == "xlsx_bounds"
    assert "parties" in error.message


def test_it_names_the_missing_required_columns() -> None:
    text = "SIREN;Nom;Montant\n552100554;A;1\n"
    error = refusal(text.encode(), "l.csv")

    assert error.code == "missing_columns"
    assert "Encours" in error.message and "Limite primaire" in error.message
    assert "Raison sociale" not in error.message.split(".")[0]


def test_it_reads_english_headers_in_another_order_and_case() -> None:
    text = (
        "PRIMARY_LIMIT,Requested Top-Up,Company,Exposure (EUR),VAT,Country\n"
        "40000,40000,Acme GmbH,100000,DE136695976,DE\n"
    )
    parsed = read_buyer_list(content=text.encode(), filename="buyers.csv")

    (line,) = parsed.lines
    assert (line.identifier, line.name) == ("DE136695976", "Acme GmbH")
    assert (line.exposure, line.primary, line.top_up) == (D("100000"), D("40000"), D("40000"))
    assert parsed.headers[Column.PRIMARY] == "PRIMARY_LIMIT"
    assert parsed.ignored_headers == ("Country",)


@pytest.mark.parametrize(
    "header",
    ["n° TVA", "N°_TVA", "Identifier", "SIRET", "siren ", "Numéro TVA", "Nº TVA"],
)
def test_it_recognises_identifier_headers(header: str) -> None:
    text = f"{header};Nom;Encours;Limite primaire\n552100554;A;1;1\n"

    assert read_buyer_list(content=text.encode(), filename="l.csv").lines[0].identifier


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1\u202f234,56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1234,5", "1234.50"),
        ("1 234", "1234.00"),
        ("1 234 €", "1234.00"),
        ("€1234,56", "1234.56"),
        ("12.500", "12500.00"),
        ("1,234,567.89", "1234567.89"),
        ("0,005", "0.01"),
        ("-250", "-250.00"),
    ],
)
def test_it_reads_french_amounts(text: str, amount: str) -> None:
    assert parse_amount(text) == D(amount)


@pytest.mark.parametrize("text", ["", "abc", "12 34", "1,2,3", "1e5", "12,", "N/A", "--5"])
def test_it_does_not_take_what_is_not_an_amount_for_one(text: str) -> None:
    assert parse_amount(text) is None


def test_a_number_cell_is_read_through_its_text_not_float_arithmetic() -> None:
    assert amount_from_cell(0.1 + 0.2) == D("0.30")
    assert amount_from_cell(2.675) == D("2.68")  # float arithmetic rounds it to 2.67
    assert amount_from_cell(True) is None
    assert amount_from_cell(float("nan")) is None


def test_the_quote_an_export_puts_before_a_formula_is_taken_off_on_reading() -> None:
    text = "SIREN;Nom;Encours;Limite primaire\n552100554;'=1+1;'-5;'Rien\n"
    (line,) = read_buyer_list(content=text.encode(), filename="l.csv").lines

    assert (line.name, line.exposure_text, line.exposure) == ("=1+1", "-5", D("-5"))
    assert line.primary_text == "'Rien"  # a quote before ordinary text is the user's own

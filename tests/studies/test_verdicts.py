"""A verdict for every line (issue 8 "Upload"; DESIGN §4 "Buyer" and "Top-up request")."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal

import pytest

from studies.columns import Column
from studies.numbers import parse_amount
from studies.parsing import BuyerLine, read_buyer_list
from studies.verdicts import LineVerdict, Problem, line_verdicts

D = Decimal
TWO = D("2")
SIREN = "552100554"
SIRET = "55210055400013"  # an establishment of SIREN
VAT = "FR96552100554"  # SIREN's French VAT number
OTHER_SIREN = "732829320"


def line(
    identifier: str = SIREN,
    *,
    number: int = 2,
    name: str = "Grossiste Martin",
    exposure: str = "100 000",
    primary: str = "40 000",
    top_up: str = "",
) -> BuyerLine:
    return BuyerLine(
        number=number,
        identifier=identifier,
        name=name,
        exposure_text=exposure,
        primary_text=primary,
        top_up_text=top_up,
        exposure=parse_amount(exposure),
        primary=parse_amount(primary),
        top_up=parse_amount(top_up),
    )


def verdict(
    buyer_line: BuyerLine,
    *,
    headers: Mapping[Column, str] | None = None,
    known_buyers: Collection[str] = frozenset(),
) -> LineVerdict:
    (only,) = line_verdicts(
        lines=[buyer_line], top_up_multiple=TWO, headers=headers, known_buyers=known_buyers
    )
    return only


def problems(result: LineVerdict) -> list[tuple[Column, Problem]]:
    return [(error.column, error.problem) for error in result.errors]


def test_the_seed_example_is_accepted() -> None:
    result = verdict(line(exposure="100 000,00", primary="40 000,00", top_up="40 000,00"))

    assert result.accepted and result.errors == ()
    assert result.buyer_key == SIREN


@pytest.mark.parametrize(
    ("identifier", "key"),
    [
        ("552 100 554", SIREN),
        ("552.100.554", SIREN),
        (SIRET, SIREN),  # the limit attaches to the SIREN
        ("552 100 554 00013", SIREN),
        (VAT, SIREN),
        ("fr 96 552 100 554", SIREN),
        ("DE136695976", "DE136695976"),  # a foreign buyer, by its EU VAT number
    ],
)
def test_it_normalises_the_identifier(identifier: str, key: str) -> None:
    result = verdict(line(identifier))

    assert result.accepted, [error.message for error in result.errors]
    assert result.buyer_key == key


@pytest.mark.parametrize(
    ("identifier", "says"),
    [
        ("552100555", "SIREN 552100555 invalide"),
        ("55210055400014", "SIRET 55210055400014 invalide"),
        ("FR97552100554", "Numéro de TVA FR97552100554 invalide"),
        ("12345", "un SIREN a 9 chiffres"),
        ("DE000000000", "ni un numéro de TVA"),
    ],
)
def test_it_refuses_a_wrong_key_naming_the_line_the_column_the_value_and_the_fix(
    identifier: str, says: str
) -> None:
    result = verdict(line(identifier, number=7))

    (error,) = result.errors
    assert error.problem == Problem.IDENTIFIER_INVALID
    assert (error.line, error.header, error.value) == (7, Column.IDENTIFIER.label, identifier)
    assert error.message.startswith(f"Ligne 7, colonne « {Column.IDENTIFIER.label} » :")
    assert says in error.message and "Kbis" in error.message
    assert result.company is None and not result.accepted


def test_errors_name_the_column_as_the_user_headed_it() -> None:
    result = verdict(line("552100555"), headers={Column.IDENTIFIER: "N° SIREN client"})

    assert result.errors[0].message.startswith("Ligne 2, colonne « N° SIREN client » :")


def test_it_refuses_a_line_without_identifier() -> None:
    assert problems(verdict(line(""))) == [(Column.IDENTIFIER, Problem.IDENTIFIER_MISSING)]


def test_a_name_is_needed_when_the_buyer_is_not_known_yet() -> None:
    assert problems(verdict(line(name=""))) == [(Column.NAME, Problem.NAME_MISSING)]
    assert verdict(line(name=""), known_buyers={SIREN}).accepted


def test_it_refuses_a_name_longer_than_the_registry_holds() -> None:
    assert problems(verdict(line(name="x" * 201))) == [(Column.NAME, Problem.NAME_TOO_LONG)]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"exposure": ""}, (Column.EXPOSURE, Problem.AMOUNT_MISSING)),
        ({"exposure": "beaucoup"}, (Column.EXPOSURE, Problem.NOT_A_NUMBER)),
        ({"exposure": "0"}, (Column.EXPOSURE, Problem.NOT_POSITIVE)),
        ({"exposure": "-5 000"}, (Column.EXPOSURE, Problem.NOT_POSITIVE)),
        ({"exposure": "1 000 000 000 000 000"}, (Column.EXPOSURE, Problem.TOO_LARGE)),
        ({"primary": ""}, (Column.PRIMARY, Problem.AMOUNT_MISSING)),
        ({"primary": "40k"}, (Column.PRIMARY, Problem.NOT_A_NUMBER)),
        ({"primary": "0,00"}, (Column.PRIMARY, Problem.NOT_POSITIVE)),
        ({"primary": "100 000,01"}, (Column.PRIMARY, Problem.PRIMARY_ABOVE_EXPOSURE)),
        ({"top_up": "oui"}, (Column.TOP_UP, Problem.NOT_A_NUMBER)),
        ({"top_up": "-1"}, (Column.TOP_UP, Problem.NEGATIVE)),
        ({"top_up": "80 000,01"}, (Column.TOP_UP, Problem.TOP_UP_ABOVE_MULTIPLE)),
    ],
)
def test_it_refuses_a_wrong_amount(cells: dict[str, str], expected: tuple[Column, Problem]) -> None:
    buyer_line = line(
        exposure=cells.get("exposure", "100 000"),
        primary=cells.get("primary", "40 000"),
        top_up=cells.get("top_up", ""),
    )
    assert problems(verdict(buyer_line)) == [expected]


def test_no_primary_means_no_top_up() -> None:
    (error,) = verdict(line(primary="0", top_up="10 000")).errors

    assert error.problem == Problem.NOT_POSITIVE
    assert "Sans limite primaire, pas de top-up" in error.message


def test_a_top_up_of_exactly_twice_the_primary_is_accepted() -> None:
    assert verdict(line(primary="40 000", top_up="80 000")).accepted


def test_it_refuses_a_top_up_above_twice_the_primary_and_says_the_largest_that_passes() -> None:
    (error,) = verdict(line(primary="40 000", top_up="90 000")).errors

    assert error.value == "90 000"
    assert "2 fois la limite primaire" in error.message
    assert "Demandez au plus 80" in error.message  # 80 000,00 €, with a French separator


def test_the_multiple_comes_from_the_contract() -> None:
    (result,) = line_verdicts(lines=[line(top_up="70 000")], top_up_multiple=D("1.5"))

    assert "1,5 fois" in result.errors[0].message


def test_a_buyer_listed_twice_is_refused_from_its_second_line_naming_the_first() -> None:
    lines = [
        line(SIREN, number=2),
        line(OTHER_SIREN, number=3),
        line(SIRET, number=5),
        line(VAT, number=9),
    ]
    results = line_verdicts(lines=lines, top_up_multiple=TWO)

    assert [result.accepted for result in results] == [True, True, False, False]
    for result in results[2:]:
        (error,) = result.errors
        assert error.problem == Problem.DUPLICATE
        assert "figure déjà à la ligne 2" in error.message


def test_a_line_collects_every_error_it_has() -> None:
    result = verdict(line("552100555", name="", exposure="", primary="x", top_up="y"))

    assert problems(result) == [
        (Column.IDENTIFIER, Problem.IDENTIFIER_INVALID),
        (Column.NAME, Problem.NAME_MISSING),
        (Column.EXPOSURE, Problem.AMOUNT_MISSING),
        (Column.PRIMARY, Problem.NOT_A_NUMBER),
        (Column.TOP_UP, Problem.NOT_A_NUMBER),
    ]


def test_a_messy_file_gets_a_verdict_for_every_line() -> None:
    text = (
        "\ufeffN° TVA;Nom;Encours (€);Garantie primaire;Complément\r\n"
        f"{SIREN[:3]} {SIREN[3:6]} {SIREN[6:]};Martin;100 000,00;40 000,00;40 000,00\r\n"
        "\r\n"
        f"{SIRET};Martin (établissement);5 000;1 000;\r\n"
        "552100555;Erreur de clé;1 000;500;\r\n"
        f"{OTHER_SIREN};Dupont;2 000;3 000;\r\n"
    )
    parsed = read_buyer_list(content=text.encode("utf-8"), filename="etude.csv")
    results = line_verdicts(lines=parsed.lines, top_up_multiple=TWO, headers=parsed.headers)

    summary = [(r.line.number, r.accepted, [e.problem for e in r.errors]) for r in results]
    assert summary == [
        (2, True, []),
        (4, False, [Problem.DUPLICATE]),
        (5, False, [Problem.IDENTIFIER_INVALID]),
        (6, False, [Problem.PRIMARY_ABOVE_EXPOSURE]),
    ]
    assert results[3].errors[0].message.startswith("Ligne 6, colonne « Garantie primaire » :")

"""The file-reading core of buyer-health monitoring (issue 9): BODACC-shaped records and grade
CSVs built here, as bytes. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitoring.readers import (
    BuyerHealthProvider,
    FileProvider,
    FileRefused,
    GradeChange,
    JudgmentEvent,
    Notice,
    NoticeKind,
    NoticeRef,
    ProviderBatch,
    ReadLimits,
    judgment_event,
    read_bodacc,
    read_grades,
)
from tests.support.monitoring import (
    LIQUIDATION,
    PEUGEOT,
    PREVIOUS,
    RECEIVERSHIP,
    SAFEGUARD,
    TOTAL,
    bodacc_csv,
    json_lines,
    notice,
)

# --- BODACC: both shapes -------------------------------------------------------------------------


def test_json_lines_notice_is_read_with_its_judgment() -> None:
    result = read_bodacc(json_lines(notice()))

    assert result.problems == ()
    [read] = result.records
    assert read.line == 1
    assert read.kind is NoticeKind.INITIAL
    assert read.siren == PEUGEOT
    assert read.published_on == date(2026, 11, 27)
    assert read.merchant == "SOCIETE EXEMPLE"
    assert read.court == "TRIBUNAL DE COMMERCE DE LYON"
    assert read.key == "A-20260231-1234"
    assert read.previous is None
    assert read.judgment is not None
    assert read.judgment.family == "Jugement d'ouverture"
    assert read.judgment.nature_text == RECEIVERSHIP
    assert read.judgment.event is JudgmentEvent.RECEIVERSHIP
    assert read.judgment.event.opens_proceedings
    assert read.judgment.judged_on == date(2026, 11, 20)
    assert read.judgment_key == f"{PEUGEOT}:receivership:2026-11-20"


def test_csv_with_bom_gives_the_same_notices_as_json_lines() -> None:
    records = [notice(1, siren=PEUGEOT), notice(2, siren=TOTAL, nature=LIQUIDATION)]

    from_csv = read_bodacc(bodacc_csv(*records, bom=True))
    from_json = read_bodacc(json_lines(*records))

    assert from_csv.problems == ()
    # Line 1 is the header: the data lines are 2 and 3.
    assert [n.line for n in from_csv.records] == [2, 3]
    assert [(n.key, n.siren, n.judgment_key) for n in from_csv.records] == [
        (n.key, n.siren, n.judgment_key) for n in from_json.records
    ]
    assert read_bodacc(bodacc_csv(*records, bom=False)).records == from_csv.records


@pytest.mark.parametrize(
    "registre",
    [["552 100 554", "552100554"], ["552100554"], ["552 100 554"], "552 100 554,552100554"],
)
def test_registre_spaced_or_plain(registre: list[str] | str) -> None:
    [read] = read_bodacc(json_lines(notice(registre=registre))).records
    assert read.siren == PEUGEOT


def test_registre_in_csv_spaced_and_plain() -> None:
    content = bodacc_csv(notice(registre=["552 100 554", "552100554"]))
    assert [n.siren for n in read_bodacc(content).records] == [PEUGEOT]


def test_csv_record_over_two_lines_and_the_next_one_numbered_by_its_first_line() -> None:
    multiline = notice(1, commercant="SOCIETE EXEMPLE\nvenant aux droits de SOCIETE ANCIENNE")
    result = read_bodacc(bodacc_csv(multiline, notice(2, famille="modification"), notice(3)))

    assert [n.line for n in result.records] == [2, 5]
    assert result.records[0].merchant.endswith("SOCIETE ANCIENNE")
    assert result.ignored == 1


# --- natures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nature", "event"),
    [
        (RECEIVERSHIP, JudgmentEvent.RECEIVERSHIP),
        (SAFEGUARD, JudgmentEvent.SAFEGUARD),
        (LIQUIDATION, JudgmentEvent.LIQUIDATION),
        ("JUGEMENT PRONONCANT LA LIQUIDATION JUDICIAIRE", JudgmentEvent.LIQUIDATION),
        ("Jugement de conversion en liquidation judiciaire", JudgmentEvent.LIQUIDATION),
        (
            "Jugement d'ouverture d'une procédure de liquidation judiciaire simplifiée",
            JudgmentEvent.LIQUIDATION,
        ),
        (
            "Jugement prononçant la résolution du plan de redressement et la liquidation "
            "judiciaire",
            JudgmentEvent.LIQUIDATION,
        ),
        ("Jugement d'ouverture d'une procédure de sauvegarde accélérée", JudgmentEvent.SAFEGUARD),
        ("Jugement arrêtant le plan de redressement", JudgmentEvent.PLAN),
        ("Jugement arrêtant le plan de sauvegarde", JudgmentEvent.PLAN),
        ("Jugement arrêtant le plan de cession", JudgmentEvent.PLAN),
        ("Jugement modifiant le plan de continuation", JudgmentEvent.PLAN),
        ("Jugement de clôture pour insuffisance d'actif", JudgmentEvent.CLOSURE),
        ("Jugement de clôture de la liquidation judiciaire", JudgmentEvent.CLOSURE),
        ("Jugement de Clôture pour extinction du passif", JudgmentEvent.CLOSURE),
        ("Jugement de conversion en redressement judiciaire", JudgmentEvent.RECEIVERSHIP),
        (
            "Jugement de conversion de la procédure de sauvegarde en redressement judiciaire",
            JudgmentEvent.RECEIVERSHIP,
        ),
        ("JUGEMENT D’OUVERTURE D’UNE PROCEDURE DE SAUVEGARDE", JudgmentEvent.SAFEGUARD),
        ("Jugement fixant la date de cessation des paiements", JudgmentEvent.OTHER),
        ("Autre jugement et ordonnance", JudgmentEvent.OTHER),
    ],
)
def test_nature_is_mapped(nature: str, event: JudgmentEvent) -> None:
    assert judgment_event(nature) is event
    [read] = read_bodacc(json_lines(notice(nature=nature))).records
    assert read.judgment is not None and read.judgment.event is event


def test_plan_and_closure_do_not_open_proceedings() -> None:
    assert not JudgmentEvent.PLAN.opens_proceedings
    assert not JudgmentEvent.CLOSURE.opens_proceedings
    assert not JudgmentEvent.OTHER.opens_proceedings
    assert JudgmentEvent.SAFEGUARD.opens_proceedings


# --- families, rectifications, cancellations, duplicates ---------------------------------------


def test_other_families_are_ignored_and_counted() -> None:
    content = json_lines(
        notice(1),
        notice(2, famille="creation"),
        notice(3, famille="modification"),
        notice(4, famille="modification"),
    )
    result = read_bodacc(content)

    assert [n.key for n in result.records] == ["A-20260231-1"]
    assert result.problems == ()
    assert result.ignored == 3
    assert result.ignored_families == {"creation": 1, "modification": 2}
    assert result.read == 4


def test_rectification_and_cancellation_name_the_earlier_notice() -> None:
    initial = notice(1234)
    rectification = notice(
        77,
        typeavis="rectificatif",
        nature=SAFEGUARD,
        previous=PREVIOUS,
        parution="20260235",
        id="A2026023577",
        dateparution="2026-12-03",
    )
    cancellation = notice(
        88,
        typeavis="annulation",
        previous=PREVIOUS,
        jugement=None,
        parution="20260236",
        id="A2026023688",
        dateparution="2026-12-04",
    )
    for content in (
        json_lines(initial, rectification, cancellation),
        bodacc_csv(initial, rectification, cancellation),
    ):
        result = read_bodacc(content)
        assert result.problems == ()
        first, fixed, withdrawn = result.records

        assert fixed.kind is NoticeKind.RECTIFICATION
        assert fixed.key == "A-20260235-77"
        assert fixed.previous == NoticeRef("A", "20260231", date(2026, 11, 27), "1234")
        assert fixed.previous.key == first.key
        assert fixed.previous.matches(first.ref)

        assert withdrawn.kind is NoticeKind.CANCELLATION
        assert withdrawn.judgment is None and withdrawn.judgment_key is None
        assert withdrawn.previous is not None
        assert withdrawn.previous.key == first.key


def test_a_reference_by_date_only_still_matches() -> None:
    by_date = NoticeRef("A", None, date(2026, 11, 27), "1234")
    by_issue = NoticeRef("A", "20260231", date(2026, 11, 27), "1234")
    assert by_date.matches(by_issue) and by_issue.matches(by_date)
    assert not by_date.matches(NoticeRef("A", None, date(2026, 11, 28), "1234"))
    assert not by_issue.matches(NoticeRef("A", "20260232", date(2026, 11, 27), "1234"))


def test_the_key_falls_back_on_the_record_id() -> None:
    record = notice(1234, numeroannonce=None, parution=None, publicationavis=None)
    [read] = read_bodacc(json_lines(record)).records
    assert read.key == "A-20260231-1234"


def test_the_same_judgment_in_two_notices_or_two_files_has_one_judgment_key() -> None:
    first = read_bodacc(json_lines(notice(1, registre=["552 100 554"]))).records[0]
    again = read_bodacc(bodacc_csv(notice(9, registre=["552100554"], parution="20260240")))
    second = again.records[0]

    assert first.key != second.key
    assert first.judgment_key == second.judgment_key
    other_date = read_bodacc(json_lines(notice(2, judged_on="2026-11-21"))).records[0]
    assert other_date.judgment_key != first.judgment_key


# --- malformed records ---------------------------------------------------------------------------


def test_malformed_lines_are_reported_with_their_number_and_the_good_ones_kept() -> None:
    content = json_lines(
        notice(1),  # 1
        '{"familleavis": "collective", "typeavis": ',  # 2: cut JSON
        notice(3, jugement="{nature: pas du JSON"),  # 3: jugement is not JSON
        notice(4, registre=["123 456 789", "123456789"]),  # 4: SIREN key wrong
        notice(5, dateparution=""),  # 5: no date
        notice(6, registre=[]),  # 6: no SIREN
        notice(7, judged_on="le 20"),  # 7: judgment date unreadable
        notice(8, typeavis="rectificatif"),  # 8: rectifies nothing named
        notice(9, siren=TOTAL),  # 9
    )
    result = read_bodacc(content)

    assert [n.line for n in result.records] == [1, 9]
    assert [p.line for p in result.problems] == [2, 3, 4, 5, 6, 7, 8]
    reasons = {p.line: p.reason for p in result.problems}
    assert reasons[2] == "Ligne JSON illisible."
    assert "jugement" in reasons[3] and "JSON" in reasons[3]
    assert reasons[4] == "SIREN invalide : « 123 456 789 »."
    assert reasons[5] == "Date de parution manquante."
    assert reasons[6] == "SIREN manquant."
    assert "Date du jugement illisible" in reasons[7]
    assert "parutionavisprecedent" in reasons[8]


def test_malformed_csv_line_is_reported_with_its_line() -> None:
    content = bodacc_csv(notice(1), notice(2, jugement="pas du json"), notice(3))
    result = read_bodacc(content)
    assert [n.line for n in result.records] == [2, 4]
    assert [p.line for p in result.problems] == [3]


def test_files_that_cannot_be_read_are_refused_on_the_file_field() -> None:
    with pytest.raises(FileRefused) as too_big:
        read_bodacc(json_lines(notice(1), notice(2)), limits=ReadLimits(max_bytes=100))
    assert too_big.value.field == "file" and too_big.value.code == "too_large"

    with pytest.raises(FileRefused) as too_long:
        read_bodacc(json_lines(notice(1), notice(2), notice(3)), limits=ReadLimits(max_lines=2))
    assert too_long.value.code == "too_many_lines"
    assert "3 lignes" in too_long.value.message

    with pytest.raises(FileRefused) as latin1:
        read_bodacc("familleavis;tribunal\ncollective;Créteil\n".encode("latin-1"))
    assert latin1.value.code == "encoding"

    with pytest.raises(FileRefused) as no_header:
        read_bodacc(b"a;b\n1;2\n")
    assert no_header.value.code == "no_header"

    with pytest.raises(FileRefused):
        read_bodacc(b"  \n")


# --- grades --------------------------------------------------------------------------------------


def test_grade_csv_with_french_headers_and_bad_grades() -> None:
    content = (
        "\ufeffSIREN;Date d'effet;Note;Fournisseur\n"
        "552 100 554;28/11/2026;7;Agence A\n"
        "542051180;2026-11-28;11;Agence A\n"
        "542051180;2026-11-28;abc;Agence A\n"
        "542051180;;5;Agence A\n"
        "542051180;2026-11-29;3;Agence A\n"
    ).encode()
    result = read_grades(content)

    assert result.records == (
        GradeChange(2, PEUGEOT, date(2026, 11, 28), 7, "Agence A"),
        GradeChange(6, TOTAL, date(2026, 11, 29), 3, "Agence A"),
    )
    assert [(p.line, p.reason) for p in result.problems] == [
        (3, "Note hors bornes : 11 (de 0 à 10, 10 étant la meilleure)."),
        (4, "Note illisible : « abc » (un entier de 0 à 10 est attendu)."),
        (5, "Date d'effet manquante."),
    ]


def test_grade_csv_with_english_headers_and_commas() -> None:
    content = (
        b"source,Grade,siren,DATE\n"
        b"Provider B,0,552100554,2026-01-02\n"
        b"Provider B,10,542051180,2026-01-03\n"
    )
    result = read_grades(content)
    assert [(g.siren, g.grade, g.source) for g in result.records] == [
        (PEUGEOT, 0, "Provider B"),
        (TOTAL, 10, "Provider B"),
    ]


def test_grade_csv_without_a_grade_column_is_refused() -> None:
    with pytest.raises(FileRefused) as refused:
        read_grades(b"siren;date;source\n552100554;2026-01-02;A\n")
    assert refused.value.field == "file" and "grade" in refused.value.message


# --- providers -----------------------------------------------------------------------------------


class InMemoryProvider:
    """A second provider, as a commercial feed would be: mypy checks it against the interface."""

    name = "mémoire"

    def __init__(self, notices: tuple[Notice, ...], grades: tuple[GradeChange, ...]) -> None:
        self.notices = notices
        self.grades = grades

    def fetch(self, since: datetime | None = None) -> ProviderBatch:
        return ProviderBatch(notices=self.notices, grade_changes=self.grades)


def sweep(provider: BuyerHealthProvider, since: datetime | None = None) -> ProviderBatch:
    """What the daily sweep will do first: ask a provider, whichever it is."""
    return provider.fetch(since)


def test_file_provider_wraps_the_readers_and_returns_what_came_after_since() -> None:
    monday = datetime(2026, 11, 23, 8, tzinfo=UTC)
    tuesday = datetime(2026, 11, 24, 8, tzinfo=UTC)
    provider = FileProvider()
    report = provider.add_bodacc(
        "bodacc.jsonl",
        json_lines(notice(1), "{oops", notice(3, famille="creation")),
        received_at=monday,
    )
    provider.add_grades(
        "notes.csv", b"siren;date;note;source\n552100554;2026-11-23;6;A\n", received_at=tuesday
    )

    assert (report.records, report.ignored, [p.line for p in report.problems]) == (1, 1, [2])
    everything = sweep(provider)
    assert [n.key for n in everything.notices] == ["A-20260231-1"]
    assert [g.grade for g in everything.grade_changes] == [6]
    assert [f.name for f in everything.files] == ["bodacc.jsonl", "notes.csv"]
    since_monday = sweep(provider, monday)
    assert since_monday.notices == () and len(since_monday.grade_changes) == 1

    with pytest.raises(FileRefused):
        provider.add_grades("vide.csv", b"")
    assert len(sweep(provider).files) == 2


def test_a_second_provider_satisfies_the_interface() -> None:
    grades = (GradeChange(1, PEUGEOT, date(2026, 11, 28), 2, "mémoire"),)
    provider = InMemoryProvider((), grades)

    assert isinstance(provider, BuyerHealthProvider)
    assert isinstance(FileProvider(), BuyerHealthProvider)
    assert sweep(provider).grade_changes == grades

"""The arbiters' monitoring pages: the monitoring page (alerts, exposure at stake, buyers that
moved, import history, filters), the import page and a file's page with its progress."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from monitoring import tasks
from monitoring.models import Alert, FileStatus, HealthFile
from portal.models import Role, User
from tests.support.clients import client_for
from tests.support.factories import BuyerFactory
from tests.support.monitoring import (
    SAFEGUARD,
    exposed_buyer,
    grades_csv,
    imported,
    json_lines,
    notice,
)
from tests.support.world import World
from underwriting.models import Buyer

pytestmark = pytest.mark.django_db

MONITORING = "/backoffice/monitoring/"
IMPORT = "/backoffice/monitoring/import/"


def _text(response: object) -> str:
    """The page's text with every space removed (French numbers use narrow no-break spaces)."""
    return re.sub(r"\s", "", response.content.decode())  # type: ignore[attr-defined]


def _exposed_to_both(world: World, **fields: object) -> Buyer:
    """A buyer alice holds 40 000 € on and bob 25 000 €, since January."""
    return exposed_buyer((world.alice, "40000"), (world.bob, "25000"), **fields)


def _upload(name: str, content: bytes) -> object:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _deciders(world: World) -> list[User]:
    return [world.staff[role] for role in (Role.ARBITER, Role.SENIOR_ARBITER, Role.ADMIN)]


def _refused(world: World) -> list[User]:
    return [
        *world.alice.users.values(),
        *world.bob.users.values(),
        world.broker_user,
        world.staff[Role.FINANCE_OPS],
        world.staff[Role.CLAIMS_HANDLER],
    ]


def test_the_monitoring_page_shows_alerts_exposure_moves_and_imports(
    world: World, arbiter: User
) -> None:
    troubled = _exposed_to_both(world, name="Revendeur Alpha")
    falling = BuyerFactory.create(name="Revendeur Beta", grade=7)
    bodacc = imported(arbiter, json_lines(notice(siren=troubled.siren, nature=SAFEGUARD)))
    grades = imported(
        arbiter,
        grades_csv((falling.siren or "", "2026-11-25", 4, "Agence")),
        kind="grades",
        name="notes.csv",
    )

    for user in _deciders(world):
        response = client_for(user).get(MONITORING)
        assert response.status_code == 200, user.username
        context = response.context
        [alert] = [a for a in context["alerts"] if a.buyer_id == troubled.pk]
        assert alert.reached == 2  # alice and bob
        exposures = {buyer.pk: buyer for buyer in context["exposures"]}
        assert exposures[troubled.pk].top_up == Decimal("65000.00")
        assert exposures[troubled.pk].policyholders == 2
        assert exposures[falling.pk].top_up == Decimal("0")  # alerted, nobody covers it
        [move] = context["grade_moves"]
        assert (move.buyer_id, move.previous_grade, move.grade) == (falling.pk, 7, 4)
        [opening] = context["proceedings_moves"]
        assert opening.buyer_id == troubled.pk
        assert {file.pk for file in context["files"].object_list} == {bodacc.pk, grades.pk}
        page = _text(response)
        assert "65000,00€" in page
        assert "7→<strong>4</strong>/10" in page
        assert f"/backoffice/buyers/{troubled.pk}/" in page
        assert f"/backoffice/monitoring/files/{bodacc.pk}/" in page


def test_the_monitoring_pages_are_404_to_everyone_but_the_deciders(
    world: World, arbiter: User
) -> None:
    file = imported(arbiter, json_lines(notice(siren=BuyerFactory.create().siren)))
    urls = [MONITORING, IMPORT, f"/backoffice/monitoring/files/{file.pk}/"]
    for user in _refused(world):
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == 404, (url, user.username)
        posted = client.post(IMPORT, {"kind": "bodacc", "file": _upload("a.jsonl", b"{}\n")})
        assert posted.status_code == 404, user.username
    assert HealthFile.objects.count() == 1


def test_filters_are_kept_in_the_url_and_narrow_the_lists(world: World, arbiter: User) -> None:
    troubled = _exposed_to_both(world, name="Revendeur Alpha")
    other = BuyerFactory.create(name="Autre Revendeur", grade=8)
    imported(arbiter, json_lines(notice(siren=troubled.siren)))
    imported(
        arbiter,
        grades_csv((other.siren or "", "2026-11-25", 2, "Agence")),
        kind="grades",
        name="notes.csv",
    )
    client = client_for(arbiter)

    def alerted(**query: str) -> set[object]:
        response = client.get(MONITORING, query)
        assert response.status_code == 200
        return {alert.buyer_id for alert in response.context["alerts"]}

    assert alerted() == {troubled.pk, other.pk}
    assert 'value="30" selected' in client.get(MONITORING).content.decode()  # the default
    assert alerted(rule="proceedings") == {troubled.pk}
    assert alerted(rule="grade_low") == {other.pk}
    assert alerted(rule="grade_fall") == {other.pk}  # 8 → 2 meets both grade rules
    spaced = f"{troubled.siren[:3]} {troubled.siren[3:6]} {troubled.siren[6:]}"  # type: ignore[index]
    assert alerted(q=spaced) == {troubled.pk}
    assert alerted(q="autre") == {other.pk}
    # An alert raised 10 days ago is in the last 30 days, not in the last 7.
    Alert.objects.filter(buyer=troubled).update(created_at=timezone.now() - timedelta(days=10))
    assert alerted(period="7") == {other.pk}
    assert alerted(period="30") == {troubled.pk, other.pk}
    narrowed = client.get(MONITORING, {"rule": "proceedings", "period": "90"})
    assert [b.pk for b in narrowed.context["exposures"]] == [troubled.pk]
    assert 'value="90" selected' in narrowed.content.decode()


def test_bad_filter_values_are_form_errors_never_a_failure(world: World, arbiter: User) -> None:
    client = client_for(arbiter)
    for query in (
        {"period": "365"},
        {"period": "abc"},
        {"rule": "everything"},
        {"q": "x" * 500},
        {"page": "-3"},
        {"page": "zzz"},
    ):
        response = client.get(MONITORING, query)
        assert response.status_code == 200, query
        assert response.context["form"].errors, query
    response = client.get(MONITORING, {"period": "365", "rule": "grade_low"})
    assert "period" in response.context["form"].errors
    assert "errorlist" in response.content.decode()


def test_the_monitoring_page_costs_the_same_queries_with_more_rows(
    world: World, arbiter: User
) -> None:
    client = client_for(arbiter)
    imported(arbiter, json_lines(notice(siren=_exposed_to_both(world).siren)))
    with CaptureQueriesContext(connection) as few:
        client.get(MONITORING)
    for number in range(2, 7):
        buyer = _exposed_to_both(world)
        imported(
            arbiter,
            json_lines(notice(number, siren=buyer.siren)),
            name=f"bodacc-{number}.jsonl",
        )
        imported(
            arbiter,
            grades_csv((buyer.siren or "", "2026-11-25", 1, "Agence")),
            kind="grades",
            name=f"notes-{number}.csv",
        )
    with CaptureQueriesContext(connection) as more:
        response = client.get(MONITORING)
    assert len(response.context["alerts"]) == 11
    assert len(more) == len(few)


def test_the_import_page_imports_a_small_file_and_shows_its_counters_and_rejected_lines(
    world: World, arbiter: User
) -> None:
    buyer = _exposed_to_both(world)
    content = json_lines(
        notice(1, siren=buyer.siren),
        '{"familleavis": "collective", "typeavis": "annonce"',
        notice(3, siren="552100554"),  # not in the registry: counted, never created
        notice(4, siren=buyer.siren, famille="immatriculation"),
    )
    client = client_for(arbiter)
    assert client.get(IMPORT).status_code == 200

    response = client.post(IMPORT, {"kind": "bodacc", "file": _upload("bodacc.jsonl", content)})

    file = HealthFile.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/backoffice/monitoring/files/{file.pk}/"
    assert file.status == FileStatus.APPLIED
    assert file.received_by == arbiter
    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "Fichier importé" in text  # the message
    assert 'data-testid="count-total">2<' in text  # the two well-formed collective notices
    assert 'data-testid="count-records">1<' in text  # the other names no registry buyer
    assert 'data-testid="count-new">1<' in text
    assert 'data-testid="count-unknown">1<' in text
    assert 'data-testid="count-ignored">1<' in text
    assert 'data-testid="count-problems">1<' in text
    assert 'data-testid="count-alerts">1<' in text
    problems = re.search(r'data-testid="file-problems".*?</table>', text, re.S)
    assert problems is not None
    assert re.search(r'<td class="num">2</td><td>\S', problems.group(0))
    assert 'hx-trigger="every 1s"' not in text  # finished: no polling
    history = client.get(MONITORING).context["files"].object_list
    assert [(f.pk, f.problem_count) for f in history] == [(file.pk, 1)]


def test_refusals_are_shown_on_the_form_naming_the_field(world: World, arbiter: User) -> None:
    client = client_for(arbiter)
    empty = client.post(IMPORT, {"kind": "bodacc", "file": _upload("vide.jsonl", b"")})
    assert empty.status_code == 400
    assert empty.context["form"].errors["file"]
    wrong_kind = client.post(IMPORT, {"kind": "pdf", "file": _upload("a.jsonl", b"{}\n")})
    assert wrong_kind.status_code == 400
    assert "kind" in wrong_kind.context["form"].errors
    assert HealthFile.objects.count() == 0


def test_a_file_that_cannot_be_read_is_refused_with_its_reason(world: World, arbiter: User) -> None:
    client = client_for(arbiter)
    response = client.post(
        IMPORT, {"kind": "bodacc", "file": _upload("bodacc.json", b'[{"familleavis": "x"}]\n')}
    )
    file = HealthFile.objects.get()
    assert response.status_code == 302
    assert file.status == FileStatus.REFUSED
    page = client.get(response["Location"]).content.decode()
    assert "Fichier refusé" in page
    assert 'data-testid="file-error"' in page and "JSON lines" in page


def test_a_large_file_is_queued_and_its_page_polls_a_progress_bar(
    world: World,
    arbiter: User,
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.MONITORING_ASYNC_BYTES = 10
    queued: list[str] = []
    monkeypatch.setattr(
        tasks.health_file_import_task, "delay", lambda *, file_id: queued.append(file_id)
    )
    buyer = _exposed_to_both(world)
    content = json_lines(*(notice(number, siren=buyer.siren) for number in range(1, 4)))
    client = client_for(arbiter)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(IMPORT, {"kind": "bodacc", "file": _upload("gros.jsonl", content)})

    file = HealthFile.objects.get()
    assert queued == [str(file.pk)]
    assert file.status == FileStatus.RECEIVED  # the worker has not run: the page polls
    url = f"/backoffice/monitoring/files/{file.pk}/"
    assert response["Location"] == url
    page = client.get(url).content.decode()
    assert "import se poursuit en arrière-plan" in page
    assert 'hx-trigger="every 1s"' in page
    assert '<progress max="100" value="0">' in page

    HealthFile.objects.filter(pk=file.pk).update(status=FileStatus.IMPORTING, total=3, stored=2)
    partial = client.get(url, HTTP_HX_REQUEST="true")
    text = partial.content.decode()
    assert "<html" not in text and 'id="file-progress"' in text
    assert '<progress max="100" value="66">' in text
    assert 'hx-trigger="every 1s"' in text
    assert "HX-Redirect" not in partial

    # The worker finishes: the partial sends the page to reload with the results.
    from monitoring.services.imports import health_file_import

    health_file_import(file_id=file.pk)
    done = client.get(url, HTTP_HX_REQUEST="true")
    assert done["HX-Redirect"] == url
    assert 'hx-trigger="every 1s"' not in done.content.decode()
    assert 'data-testid="count-records">3<' in client.get(url).content.decode()


def test_a_file_page_of_another_id_is_404(world: World, arbiter: User) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = client_for(arbiter).get(f"/backoffice/monitoring/files/{missing}/")
    assert response.status_code == 404

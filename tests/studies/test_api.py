"""The studies API (/api/v1/studies/): the whole path from a broker's prospect to a live contract,
unreadable and large files, who may write (404 otherwise), outsiders, and validated filters."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook
from pytest_django import Settings

from portal.models import AuditEvent, Role, User
from studies.models import Study, StudyLine, StudyStatus
from tests.support.clients import token_client
from tests.support.factories import BrokerFactory, UserFactory, siren_for
from tests.support.scopes import insurer_scope
from tests.support.studies import (
    buyer_list_csv,
    buyer_row,
    graded_buyer,
    prospect_fields,
    study_at,
)
from tests.support.world import Tenant, World
from underwriting.models import Buyer

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def line(buyer: Buyer, exposure: str = "100 000", primary: str = "40 000") -> str:
    return buyer_row(buyer.siren or "", exposure, primary, name=buyer.name)


def csv_file(content: bytes, name: str = "acheteurs.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, data or {}, content_type="application/json")


def names_field(response: Any, field: str) -> bool:
    """A 400 that names `field`: a domain error's `field`, or a serializer error's key."""
    body = response.json()
    return response.status_code == 400 and (body.get("field") == field or field in body)


STUDIES = "/api/v1/studies/"


def url(study: Any, suffix: str = "") -> str:
    pk = study.pk if isinstance(study, Study) else study
    return f"{STUDIES}{pk}/{suffix}"


# --- studies built through the services, for the tests about access -------------------------


def submitted_study(world: World, tenant: Tenant, *buyers: Buyer) -> Study:
    """A study of `tenant` with its list analysed and sent to the insurer."""
    return study_at(world, "submitted", *(line(buyer) for buyer in buyers), tenant=tenant)


def first_line(study: Study) -> StudyLine:
    with insurer_scope():
        found = StudyLine.objects.filter(study=study).order_by("line_number").first()
    assert found is not None
    return found


# --- the whole path -------------------------------------------------------------------------


def test_a_prospect_study_from_the_broker_to_live_guarantees(world: World) -> None:
    best, good = graded_buyer(1), graded_buyer(2)
    broker = token_client(world.broker_user)
    started = post(
        broker,
        f"{STUDIES}prospect/",
        prospect_fields(),
    )
    assert started.status_code == 201, started.content
    study = started.json()
    assert study["is_prospect"] and study["status"] == "draft"
    assert study["contract"]["status"] == "draft"

    uploaded = broker.post(
        url(study["id"], "upload/"),
        {
            "file": csv_file(
                buyer_list_csv(
                    line(best),
                    line(good),
                    line(best, "5 000", "1 000"),  # the third: best listed twice
                )
            )
        },
    )
    assert uploaded.status_code == 200, uploaded.content
    assert uploaded.json()["lines_accepted"] == 2 and uploaded.json()["lines_refused"] == 1
    assert uploaded.json()["progress"]["done"] is True

    lines = broker.get(url(study["id"], "lines/")).json()
    assert lines["count"] == 3
    first, _second, twice = lines["results"]
    # grade 9: X = min(2 × 40 000, 100 000 − 40 000) = 60 000
    assert (first["verdict"], first["grade"], first["max"], first["proposal"]) == (
        "accepted",
        9,
        "60000.00",
        "60000.00",
    )
    assert twice["verdict"] == "refused"
    assert twice["errors"][0]["column"] == "SIREN" and twice["errors"][0]["message"]
    refused = broker.get(url(study["id"], "lines/"), {"verdict": "refused"}).json()
    assert [row["line_number"] for row in refused["results"]] == [twice["line_number"]]

    assert post(broker, url(study["id"], "submit/")).json()["status"] == "submitted"

    arbiter = world.staff["arbiter"]
    arbiter.authority_amount = Decimal("100000")
    arbiter.save(update_fields=["authority_amount"])
    insurer = token_client(arbiter)
    adjusted = post(
        insurer,
        url(study["id"], f"lines/{first['id']}/adjust/"),
        {"amount": "50000", "reason": "Concentration du risque"},
    )
    assert adjusted.status_code == 200, adjusted.content
    assert adjusted.json()["adjustment"] == "50000.00" and adjusted.json()["top_up"] == "50000.00"
    too_much = post(
        insurer,
        url(study["id"], f"lines/{first['id']}/adjust/"),
        {"amount": "70000", "reason": "plus"},
    )
    assert names_field(too_much, "amount")

    # 50 000 + 60 000 = 110 000, above the arbiter's 100 000: a senior arbiter countersigns.
    finalised = post(insurer, url(study["id"], "finalise/"))
    assert finalised.json()["status"] == "awaiting_countersignature"
    assert finalised.json()["total_top_up"] == "110000.00"
    senior = token_client(world.staff["senior_arbiter"])
    countersigned = post(senior, url(study["id"], "countersign/"), {"approve": True, "note": ""})
    assert countersigned.json()["status"] == "finalised", countersigned.content

    report = broker.get(url(study["id"], "report/")).json()
    assert [row["top_up"] for row in report["lines"]] == ["50000.00", "60000.00"]
    assert report["totals"]["top_up"] == "110000.00"
    assert report["totals"]["cover"] == "190000.00"  # 2 × 40 000 primary + 110 000
    assert report["contract"]["monthly_rate"] == "0.001200"
    # 50 000 × 0.0012 + 60 000 × 0.0012 = 60.00 + 72.00
    assert report["premium"]["premium_total"] == "132.00"

    # The wholesaler's broker accepts: the contract goes live and the contact is invited.
    accepted = post(broker, url(study["id"], "accept/"))
    assert accepted.json()["status"] == "accepted", accepted.content
    contact = User.objects.get(email="camille@nouveau-grossiste.test")
    assert contact.role == Role.ORG_ADMIN
    client = token_client(contact)
    contract = client.get(f"/api/v1/contracts/{study['contract']['id']}/").json()
    assert contract["status"] == "active"
    guarantees = client.get("/api/v1/guarantees/").json()
    assert sorted(
        (row["buyer"]["siren"], row["amount"], row["valid_until"]) for row in guarantees["results"]
    ) == sorted([(best.siren, "50000.00", None), (good.siren, "60000.00", None)])


def test_the_wholesaler_itself_runs_a_study_and_accepts_it(world: World) -> None:
    buyer = graded_buyer(3)
    alice = token_client(world.alice.credit_manager)
    started = post(alice, STUDIES, {"contract": str(world.alice.contract.pk)})
    assert started.status_code == 201, started.content
    pk = started.json()["id"]
    assert (
        alice.post(url(pk, "upload/"), {"file": csv_file(buyer_list_csv(line(buyer)))}).status_code
        == 200
    )
    assert post(alice, url(pk, "submit/")).status_code == 200
    senior = token_client(world.staff["senior_arbiter"])
    assert post(senior, url(pk, "finalise/")).json()["status"] == "finalised"
    assert post(alice, url(pk, "accept/")).json()["status"] == "accepted"
    guarantees = alice.get("/api/v1/guarantees/", {"buyer": str(buyer.pk)}).json()
    assert [row["amount"] for row in guarantees["results"]] == ["60000.00"]
    listed = alice.get(STUDIES, {"status": "accepted"}).json()
    assert [row["id"] for row in listed["results"]] == [pk]


def test_the_verdicts_download_as_csv_and_xlsx(world: World) -> None:
    study = submitted_study(world, world.alice, graded_buyer(4))
    client = token_client(world.alice.credit_manager)
    as_csv = client.get(url(study, "verdicts/"), {"format": "csv"})
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    assert "attachment" in as_csv["Content-Disposition"]
    text = as_csv.content.decode("utf-8-sig")
    assert siren_for(7004) in text and "100000,00" in text
    as_xlsx = client.get(url(study, "verdicts/"), {"format": "xlsx"})
    assert as_xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(as_xlsx.content)).worksheets[0].values)
    assert len(rows) == 2 and rows[1][2] == siren_for(7004)
    assert names_field(client.get(url(study, "verdicts/"), {"format": "pdf"}), "format")


# --- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name"),
    [(PNG, "acheteurs.csv"), (buyer_list_csv(), "acheteurs.csv"), (b"", "vide.csv")],
    ids=["png-named-csv", "header-only", "empty"],
)
def test_an_unreadable_file_is_a_400_on_file_and_stores_nothing(
    world: World, content: bytes, name: str
) -> None:
    client = token_client(world.alice.credit_manager)
    pk = post(client, STUDIES, {"contract": str(world.alice.contract.pk)}).json()["id"]
    with insurer_scope():
        events = AuditEvent.objects.count()
    response = client.post(url(pk, "upload/"), {"file": csv_file(content, name)})
    assert names_field(response, "file"), response.content
    with insurer_scope():
        assert AuditEvent.objects.count() == events
        study = Study.objects.get(pk=pk)
        assert (study.file_name, study.lines_total, study.uploaded_at) == ("", 0, None)
        assert not StudyLine.objects.filter(study=study).exists()


def test_a_file_above_10_mb_is_refused_naming_file(world: World) -> None:
    client = token_client(world.alice.credit_manager)
    pk = post(client, STUDIES, {"contract": str(world.alice.contract.pk)}).json()["id"]
    big = buyer_list_csv(line(graded_buyer(5))) + b" " * (10 * 1024 * 1024)
    response = client.post(url(pk, "upload/"), {"file": csv_file(big)})
    assert names_field(response, "file"), response.content
    with insurer_scope():
        assert Study.objects.get(pk=pk).uploaded_at is None


@pytest.mark.usefixtures("eager_celery")
def test_a_large_list_goes_to_a_worker_202_then_the_lines(
    world: World, settings: Settings, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.STUDY_ASYNC_LINES = 2
    client = token_client(world.broker_user)
    pk = post(client, STUDIES, {"contract": str(world.alice.contract.pk)}).json()["id"]
    content = buyer_list_csv(*(line(graded_buyer(10 + n)) for n in range(3)))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(pk, "upload/"), {"file": csv_file(content)})
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "analysing"
        assert response.json()["progress"]["done"] is False
    study = client.get(url(pk)).json()
    assert study["status"] == "draft" and study["progress"]["percent"] == 100
    lines = client.get(url(pk, "lines/")).json()
    assert [row["verdict"] for row in lines["results"]] == ["accepted"] * 3


# --- who may write --------------------------------------------------------------------------


def writes(study: Study, line_id: Any, contract_id: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """Every write on a study, as (how, url, payload): json or multipart."""
    listed = buyer_list_csv(line(graded_buyer(30)))
    return [
        ("json", STUDIES, {"contract": str(contract_id)}),
        ("multipart", url(study, "upload/"), {"file": csv_file(listed)}),
        ("json", url(study, "submit/"), {}),
        ("json", url(study, f"lines/{line_id}/adjust/"), {"amount": "1000", "reason": "test"}),
        ("json", url(study, "finalise/"), {}),
        ("json", url(study, "countersign/"), {"approve": True, "note": "ok"}),
        ("json", url(study, "accept/"), {}),
        ("json", url(study, "decline/"), {"note": "non"}),
    ]


def send(client: Client, how: str, target: str, payload: dict[str, Any]) -> Any:
    if how == "multipart":
        return client.post(target, payload)
    return post(client, target, payload)


def _fingerprint() -> tuple[int, list[tuple[str, str]]]:
    with insurer_scope():
        return AuditEvent.objects.count(), sorted(
            (str(s.pk), s.status) for s in Study.objects.all()
        )


def _no_mandate_broker(world: World) -> User:
    return UserFactory.create(
        username="other@broker.test", organisation=BrokerFactory.create(), role=Role.BROKER
    )


@pytest.mark.parametrize(
    "who",
    ["alice_finance", "finance_ops", "broker_without_mandate"],
)
def test_users_who_may_not_act_get_404_on_every_write(world: World, who: str) -> None:
    study = submitted_study(world, world.alice, graded_buyer(20))
    line_id = first_line(study).pk
    user = {
        "alice_finance": lambda: world.alice.finance,
        "finance_ops": lambda: world.staff["finance_ops"],
        "broker_without_mandate": lambda: _no_mandate_broker(world),
    }[who]()
    client = token_client(user)
    before = _fingerprint()
    for how, target, payload in writes(study, line_id, world.alice.contract.pk):
        response = send(client, how, target, payload)
        assert response.status_code == 404, (who, target, response.status_code)
    assert _fingerprint() == before


def test_a_finance_user_reads_the_study_but_cannot_act(world: World) -> None:
    study = submitted_study(world, world.alice, graded_buyer(21))
    client = token_client(world.alice.finance)
    assert client.get(url(study)).json()["status"] == StudyStatus.SUBMITTED
    assert client.get(url(study, "report/")).status_code == 200


def test_an_outsider_gets_404_on_every_study_endpoint(world: World) -> None:
    study = submitted_study(world, world.alice, graded_buyer(22))
    line_id = first_line(study).pk
    for outsider in (world.bob.credit_manager, world.charlie.users[Role.ORG_ADMIN]):
        client = token_client(outsider)
        assert client.get(STUDIES).json()["count"] == 0
        for suffix in ("", "lines/", "verdicts/", "report/"):
            assert client.get(url(study, suffix)).status_code == 404, suffix
        for how, target, payload in writes(study, line_id, world.alice.contract.pk):
            response = send(client, how, target, payload)
            assert response.status_code == 404, (outsider.username, target)
    # The broker sees alice's study (its mandate), not bob's.
    bob = submitted_study(world, world.bob, graded_buyer(23))
    broker = token_client(world.broker_user)
    assert [row["id"] for row in broker.get(STUDIES).json()["results"]] == [str(study.pk)]
    assert broker.get(url(bob)).status_code == 404


# --- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "params", "field"),
    [
        ("", {"status": "nope"}, "status"),
        ("", {"policyholder": "not-a-uuid"}, "policyholder"),
        ("lines/", {"verdict": "maybe"}, "verdict"),
        ("lines/", {"grade_min": "11"}, "grade_min"),
        ("lines/", {"grade_max": "abc"}, "grade_max"),
        ("lines/", {"grade_min": "8", "grade_max": "3"}, "grade_max"),
        ("lines/", {"sort": "password"}, "sort"),
    ],
)
def test_bad_filter_values_are_a_400_naming_the_field(
    world: World, suffix: str, params: dict[str, str], field: str
) -> None:
    study = submitted_study(world, world.alice, graded_buyer(24))
    client = token_client(world.alice.credit_manager)
    target = url(study, suffix) if suffix else STUDIES
    response = client.get(target, params)
    assert names_field(response, field), response.content


def test_line_filters_and_sort(world: World) -> None:
    study = submitted_study(
        world, world.alice, graded_buyer(25, grade=9), graded_buyer(26, grade=6)
    )
    client = token_client(world.staff["arbiter"])
    high = client.get(url(study, "lines/"), {"grade_min": "8"}).json()
    assert [row["grade"] for row in high["results"]] == [9]
    by_grade = client.get(url(study, "lines/"), {"sort": "grade"}).json()
    assert [row["grade"] for row in by_grade["results"]] == [6, 9]

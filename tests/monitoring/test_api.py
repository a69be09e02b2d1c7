"""The monitoring API: a data provider posts health files with an insurer token and reads the
import history; policyholders' users and brokers read their alert feed, and nobody else's."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from monitoring import tasks
from monitoring.models import Alert, FileStatus, HealthFile, ProceedingsNotice
from portal.models import Role, User
from tests.support.clients import token_client
from tests.support.factories import BuyerFactory, GuaranteeFactory
from tests.support.monitoring import RECEIVERSHIP, imported, json_lines, notice
from tests.support.world import World
from underwriting.models import Buyer

pytestmark = pytest.mark.django_db

FILES = "/api/v1/health-files/"
ALERTS = "/api/v1/alerts/"


def _exposed_buyer(world: World) -> Buyer:
    """A buyer alice holds a top-up on (40 000 € since January); bob has nothing on it."""
    buyer: Buyer = BuyerFactory.create()
    GuaranteeFactory.create(contract=world.alice.contract, buyer=buyer)
    return buyer


def _post(client: Client, content: bytes, *, kind: str = "bodacc", name: str = "b.jsonl") -> Any:
    return client.post(FILES, {"kind": kind, "file": SimpleUploadedFile(name, content)})


def _opening_with_a_bad_line(buyer: Buyer) -> bytes:
    return json_lines(notice(siren=buyer.siren or "", nature=RECEIVERSHIP), "{not json")


def test_an_arbiter_posts_a_file_and_gets_its_counters_and_rejected_lines(
    world: World, arbiter: User
) -> None:
    buyer = _exposed_buyer(world)

    response = _post(token_client(arbiter), _opening_with_a_bad_line(buyer))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == FileStatus.APPLIED
    assert body["progress"] == 100
    assert (body["records"], body["new_records"], body["alerts"]) == (1, 1, 1)
    assert [problem["line"] for problem in body["problems"]] == [2]
    assert body["problems"][0]["reason"]
    assert HealthFile.objects.get(pk=body["id"]).received_by == arbiter


def test_posting_the_same_file_twice_stores_and_raises_nothing_new(
    world: World, arbiter: User
) -> None:
    content = _opening_with_a_bad_line(_exposed_buyer(world))
    client = token_client(arbiter)
    assert _post(client, content).status_code == 201
    notices, alerts = ProceedingsNotice.objects.count(), Alert.objects.count()

    again = _post(client, content)

    assert again.status_code == 201
    assert (again.json()["new_records"], again.json()["alerts"]) == (0, 0)
    assert (ProceedingsNotice.objects.count(), Alert.objects.count()) == (notices, alerts)


def test_a_large_file_is_queued_for_a_worker(
    world: World,
    arbiter: User,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MONITORING_ASYNC_BYTES = 10
    queued: list[str] = []
    monkeypatch.setattr(
        tasks.health_file_import_task, "delay", lambda *, file_id: queued.append(file_id)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(token_client(arbiter), _opening_with_a_bad_line(_exposed_buyer(world)))

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["progress"]) == (FileStatus.RECEIVED, 0)
    assert queued == [response.json()["id"]]
    assert not ProceedingsNotice.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "bodacc", "file": SimpleUploadedFile("vide.jsonl", b"")}, "file"),
        ({"kind": "bodacc", "file": SimpleUploadedFile("a.jsonl", b"\xff\xfe\x00x")}, "file"),
    ],
    ids=["empty", "unreadable"],
)
def test_a_refused_file_is_a_400_naming_the_field(
    world: World, arbiter: User, data: dict[str, Any], field: str
) -> None:
    response = token_client(arbiter).post(FILES, data)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == field
    assert body["code"] and body["detail"]


def test_an_unknown_kind_is_a_400_naming_the_kind(world: World, arbiter: User) -> None:
    response = _post(token_client(arbiter), b"x\n", kind="weather")

    assert response.status_code == 400
    assert "kind" in response.json()
    assert not HealthFile.objects.exists()


@pytest.mark.parametrize("who", ["credit_manager", "org_admin", "broker", "claims_handler"])
def test_others_can_neither_post_nor_read_the_import_history(
    world: World, arbiter: User, who: str
) -> None:
    file = imported(arbiter, json_lines(notice(siren=_exposed_buyer(world).siren or "")))
    user = {
        "credit_manager": world.alice.credit_manager,
        "org_admin": world.alice.users[Role.ORG_ADMIN],
        "broker": world.broker_user,
        "claims_handler": world.staff[Role.CLAIMS_HANDLER],
    }[who]
    client = token_client(user)

    assert _post(client, json_lines(notice())).status_code == 404
    assert client.get(FILES).status_code == 404
    assert client.get(f"{FILES}{file.pk}/").status_code == 404
    assert HealthFile.objects.count() == 1


def test_the_import_history_lists_the_files_for_those_who_import(
    world: World, arbiter: User
) -> None:
    file = imported(arbiter, json_lines(notice(siren=_exposed_buyer(world).siren or "")))

    for role in (Role.ARBITER, Role.SENIOR_ARBITER, Role.ADMIN):
        client = token_client(world.staff[role])
        listed = client.get(FILES).json()
        assert [row["id"] for row in listed["results"]] == [str(file.pk)]
        assert client.get(f"{FILES}{file.pk}/").json()["records"] == 1
    assert token_client(arbiter).get(f"{FILES}not-a-uuid/").status_code == 404


# --- the alert feed ---------------------------------------------------------------------------


def _alerted_buyer(world: World, arbiter: User) -> Buyer:
    buyer = _exposed_buyer(world)
    imported(arbiter, json_lines(notice(siren=buyer.siren or "", nature=RECEIVERSHIP)))
    return buyer


def test_alice_sees_her_alert_and_bob_does_not(world: World, arbiter: User) -> None:
    buyer = _alerted_buyer(world, arbiter)

    alice = token_client(world.alice.credit_manager).get(ALERTS)
    bob = token_client(world.bob.credit_manager).get(ALERTS)
    charlie = token_client(world.charlie.credit_manager).get(ALERTS)

    assert alice.status_code == 200
    [row] = alice.json()["results"]
    assert row["id"] == str(Alert.objects.get().pk)
    assert (row["buyer"], row["buyer_siren"], row["buyer_name"]) == (
        str(buyer.pk),
        buyer.siren,
        buyer.name,
    )
    assert (row["rule"], row["rules"], row["occurred_on"]) == (
        "proceedings",
        ["proceedings"],
        "2026-11-20",
    )
    assert (row["top_up"], row["open_request"]) == ("40000.00", False)
    assert row["policyholder"] == str(world.alice.organisation.pk)
    assert bob.json()["count"] == 0
    assert charlie.json()["count"] == 0


def test_the_broker_of_alice_sees_her_alert_with_her_id(world: World, arbiter: User) -> None:
    buyer = _alerted_buyer(world, arbiter)

    feed = token_client(world.broker_user).get(ALERTS, {"buyer": str(buyer.pk)}).json()

    assert [(row["buyer"], row["policyholder"]) for row in feed["results"]] == [
        (str(buyer.pk), str(world.alice.organisation.pk))
    ]


def test_the_buyer_filter_keeps_that_buyers_alerts_only(world: World, arbiter: User) -> None:
    _alerted_buyer(world, arbiter)
    other: Buyer = BuyerFactory.create()

    feed = token_client(world.alice.credit_manager).get(ALERTS, {"buyer": str(other.pk)})

    assert feed.status_code == 200
    assert feed.json()["count"] == 0


def test_a_bad_buyer_filter_is_a_400_naming_the_field(world: World) -> None:
    response = token_client(world.alice.credit_manager).get(ALERTS, {"buyer": "pas-un-uuid"})

    assert response.status_code == 400
    assert "buyer" in response.json()


def test_insurer_staff_have_no_alert_feed(world: World, arbiter: User) -> None:
    """They watch the whole portfolio from the monitoring page, as on the alerts page."""
    _alerted_buyer(world, arbiter)

    for user in world.staff.values():
        assert token_client(user).get(ALERTS).status_code == 404, user.username

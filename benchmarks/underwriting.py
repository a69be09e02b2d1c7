"""Underwriting figures: the arbiter queue's first page at 10 and 100 000 open requests, and the
order-time coverage check under 50 concurrent clients, each beside a bare Django JSON view.

The queue data lives under a dedicated bench policyholder and is removed afterwards; the
coverage check runs against a real gunicorn on loopback, started and stopped here. Pages and
the API take their tenant scope from the middleware and the token, as in production; the queue's
count and the coverage's amounts are checked, so that rows hidden by row-level security fail
the benchmark instead of making it fast.

The figures that row-level security changes are measured twice in the same run, as the
ordinary role (`.rls.`, production's shape) and as the superuser of `DATABASE_ADMIN_URL`
(`.superuser.`, exempt from every policy), with what the policies cost (`.rls_cost.`, in %). The
coverage check's targets (issue 15) are printed beside its figures (`.target`, `.target_met`).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import median

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled
from knox.models import AuthToken
from stdnum import luhn

from benchmarks.database import admin_url, as_superuser, references_checked_once, rls_cost
from benchmarks.registry import Figure, benchmark, percentile, summary, timed_ms
from portal.demo import build_demo_world
from portal.models import AuditEvent, Organisation, OrganisationKind, Role, User
from portal.timeutils import business_today
from underwriting.models import Buyer, Contract, ContractStatus, Guarantee, GuaranteeRequest

BENCH_NAME = "Bench Grossiste (données de mesure)"
BENCH_ARBITER = "bench.arbiter@bench.unlockplus.invalid"
BENCH_SIREN_BASE = 98_000_000
ROOT = Path(__file__).resolve().parent.parent
COVERAGE_ORDER = "25000"  # euros, the order the ERP checks


def _bench_siren(index: int) -> str:
    base = f"{BENCH_SIREN_BASE + index:08d}"
    return base + luhn.calc_check_digit(base)


def _cleanup() -> None:
    with scopes_disabled():
        organisations = Organisation.objects.filter(name=BENCH_NAME)
        GuaranteeRequest.objects.filter(policyholder__in=organisations).delete()
        Contract.objects.filter(policyholder__in=organisations).delete()
        organisations.delete()
        # Signing in records a security event that protects its actor.
        AuditEvent.objects.filter(actor__username=BENCH_ARBITER).delete()
        User.objects.filter(username=BENCH_ARBITER).delete()
        # 100 000 buyers: their foreign keys checked once, not once per buyer.
        with references_checked_once(Buyer._meta.db_table):
            Buyer.objects.filter(
                siren__startswith=str(BENCH_SIREN_BASE)[:2], name__startswith="BENCH "
            ).delete()
    # The 100 000 requests and buyers deleted: vacuumed now, not scanned dead by every later
    # benchmark (the home pages count the queue) until autovacuum comes by.
    with connection.cursor() as cursor:
        cursor.execute(
            f"VACUUM (ANALYZE) {GuaranteeRequest._meta.db_table}, {Buyer._meta.db_table}"
        )


def _add_open_requests(*, contract: Contract, arbiter: User, start: int, stop: int) -> None:
    now = timezone.now()
    batch = 5_000
    for first in range(start, stop, batch):
        last = min(stop, first + batch)
        buyers = Buyer.objects.bulk_create(
            [
                Buyer(siren=_bench_siren(i), name=f"BENCH {i:06d}", grade=i % 11)
                for i in range(first, last)
            ]
        )
        GuaranteeRequest.objects.bulk_create(
            [
                GuaranteeRequest(
                    policyholder_id=contract.policyholder_id,
                    contract=contract,
                    buyer=buyer,
                    exposure=Decimal("100000"),
                    primary_amount=Decimal("40000"),
                    requested_top_up=Decimal("40000"),
                    credit_term_days=60,
                    reason="new_order",
                    submitted_by=arbiter,
                    submitted_at=now - timedelta(minutes=i),
                    due_at=now + timedelta(hours=48) - timedelta(minutes=i),
                    assigned_to=arbiter,
                )
                for i, buyer in zip(range(first, last), buyers, strict=True)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE underwriting_guaranteerequest; ANALYZE underwriting_buyer;")


def _open_requests_shown(content: bytes) -> int:
    """The queue's count line ("100 000 demandes en attente", or its English)."""
    match = re.search(
        r"([\d\s\u00a0\u202f.,]+) (?:demandes? en attente|pending requests?)", content.decode()
    )
    assert match is not None, "the queue shows no count"
    return int(re.sub(r"\D", "", match.group(1)))


def _queue_sample(client: Client, *, expected: int) -> tuple[int, list[float]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/backoffice/queue/")
    assert response.status_code == 200, response.status_code
    shown = _open_requests_shown(response.content)
    assert shown == expected, f"the queue shows {shown} open requests, not {expected}"
    return len(queries), timed_ms(lambda: client.get("/backoffice/queue/"), repeat=30)


def _queue_figures(client: Client, label: str, *, expected: int) -> Iterator[Figure]:
    """The first page as the ordinary role (RLS in force), then as the superuser (exempt)."""
    queries, rls = _queue_sample(client, expected=expected)
    with as_superuser():
        _, superuser = _queue_sample(client, expected=expected)
    name = f"queue_first_page.{label}"
    yield f"{name}.queries", float(queries), "queries"
    yield from summary(f"{name}.rls", rls)
    yield from summary(f"{name}.superuser", superuser)
    yield (
        f"{name}.rls_cost.median",
        rls_cost(rls=median(rls), superuser=median(superuser), higher_is_better=False),
        "%",
    )


@benchmark("underwriting")
def underwriting() -> Iterator[Figure]:
    build_demo_world()
    _cleanup()
    try:
        with scopes_disabled():
            insurer = Organisation.objects.get(
                kind=OrganisationKind.INSURER, name="Unlock Plus Assurance"
            )
            arbiter = User.objects.create(
                username=BENCH_ARBITER,
                email=BENCH_ARBITER,
                organisation=insurer,
                role=Role.ARBITER,
                authority_amount=Decimal("150000"),
            )
            policyholder = Organisation.objects.create(
                kind=OrganisationKind.POLICYHOLDER, name=BENCH_NAME, dedicated_arbiter=arbiter
            )
            contract = Contract.objects.create(
                policyholder=policyholder,
                number="UP-BENCH-0001",
                primary_insurer_name="Bench",
                primary_policy_number="B-1",
                status=ContractStatus.ACTIVE,
                starts_on=date(2026, 1, 1),
                monthly_rate=Decimal("0.0012"),
            )
            _add_open_requests(contract=contract, arbiter=arbiter, start=0, stop=10)
        client = Client()
        client.force_login(arbiter)
        # Insurer staff sign in with two factors: the session is verified as the code page
        # leaves it (django_otp.login), or the two-factor gate would answer every page.
        device = TOTPDevice.objects.create(user=arbiter, name="bench", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        yield from summary(
            "bare_json_view", timed_ms(lambda: client.get("/bench/bare"), repeat=100)
        )
        yield from _queue_figures(client, "10_open", expected=10)
        with scopes_disabled():
            _add_open_requests(contract=contract, arbiter=arbiter, start=10, stop=100_000)
        yield from _queue_figures(client, "100000_open", expected=100_000)
    finally:
        _cleanup()
    yield from _coverage_under_load()


# --- coverage under 50 concurrent clients -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hammer(
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    clients: int,
    per_client: int,
    interval_s: float = 0.0,
) -> list[float]:
    """Each client sends `per_client` requests back to back (closed loop), or one every
    `interval_s` seconds (paced: a fixed offered load, as ERPs calling at order time)."""
    samples: list[float] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients)
    failures: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        start_gate.wait()
        next_at = time.perf_counter() + random.uniform(0, interval_s)  # noqa: S311
        try:
            for _ in range(per_client):
                if interval_s:
                    time.sleep(max(0.0, next_at - time.perf_counter()))
                    next_at += interval_s
                began = time.perf_counter()
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                mine.append((time.perf_counter() - began) * 1000)
                if response.status != 200:
                    failures.append(f"HTTP {response.status}")
        except OSError as error:  # a timeout or a dropped connection: a failure, not a pause
            failures.append(repr(error))
        finally:
            conn.close()
            with lock:
                samples.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[0]}")
    return samples


@contextmanager
def _gunicorn(database_url: str) -> Iterator[int]:
    """Our gunicorn on a free loopback port, connected with `database_url`; yields the port."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "UNLOCKPLUS_SECURE": "false",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, on loopback
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "unlockplus.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            str(max(2, (os.cpu_count() or 2))),
            "--threads",
            "8",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def _check_coverage(port: int, path: str, headers: dict[str, str], guarantee: Guarantee) -> None:
    """The endpoint answers the cover of the period in force, as read here in the bypass: a
    scope or a policy that hid it would answer nothing in force (or a 404), fast."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200, (response.status, body[:200])
    answer = json.loads(body)
    expected = {
        "primary": guarantee.primary_amount,
        "top_up": guarantee.amount,
        "total": guarantee.primary_amount + guarantee.amount,
        "headroom": guarantee.primary_amount + guarantee.amount - Decimal(COVERAGE_ORDER),
    }
    answered = {key: Decimal(answer[key]) for key in expected}
    assert answered == expected, f"coverage answered {answered}, expected {expected}"


def _coverage_guarantee() -> Guarantee:
    with scopes_disabled():
        # A top-up in force today on Distrilog's active contract: what the ERP checks.
        guarantee = (
            Guarantee.objects.filter(
                policyholder__name__startswith="Distrilog",
                contract__status=ContractStatus.ACTIVE,
                period__contains=business_today(),
                amount__gt=0,
            )
            .select_related("contract")
            .order_by("buyer__siren")
            .first()
        )
    if guarantee is None:
        raise RuntimeError("the demo world has no guarantee in force to check coverage on")
    return guarantee


# The closed loop: 50 clients, each sending its next request as soon as the last one answered.
CLIENTS, PER_CLIENT, ROUNDS = 50, 40, 2
# Paced: the same 50 clients, each one call every 500 ms (100 req/s offered) for 25 s.
PACED_INTERVAL_S, PACED_PER_CLIENT = 0.5, 50
SHARE_OF_BARE_TARGET = 50.0  # %: the coverage check's throughput against the bare view's
PACED_P95_TARGET_MS = 30.0


def _closed_loop(port: int, path: str, headers: dict[str, str]) -> tuple[int, float]:
    """(requests answered, seconds taken)."""
    began = time.perf_counter()
    samples = _hammer(port, path, headers, clients=CLIENTS, per_client=PER_CLIENT)
    return len(samples), time.perf_counter() - began


def _coverage_under_load() -> Iterator[Figure]:
    """The order-time check against gunicorn on loopback, as the ordinary role (row-level
    security in force, as in production) and, in the same run, as the superuser (exempt), each
    beside the bare Django JSON view served by the same servers meanwhile. The machine is
    shared with the load generator (and, on a developer's machine, with everything else): the
    share of the bare view's throughput in the same run is the figure to compare run to run."""
    guarantee = _coverage_guarantee()
    with scopes_disabled():
        user = User.objects.get(username="credit.distrilog@demo.unlockplus.fr")
        token_row, token = AuthToken.objects.create(user=user)
    coverage = f"/api/v1/coverage/?buyer={guarantee.buyer_id}&order_amount={COVERAGE_ORDER}"
    auth = {"Authorization": f"Token {token}", "Host": "127.0.0.1"}
    roles = ("rls", "superuser")
    try:
        with (
            _gunicorn(os.environ["DATABASE_URL"]) as rls_port,
            _gunicorn(admin_url(connection.settings_dict["NAME"])) as superuser_port,
        ):
            ports = {"rls": rls_port, "superuser": superuser_port}
            for port in ports.values():
                _hammer(port, "/bench/bare", auth, clients=10, per_client=10)  # warm up
                _check_coverage(port, coverage, auth, guarantee)
                _hammer(port, coverage, auth, clients=10, per_client=10)
            yield from _closed_loop_figures(ports, coverage, auth)
            yield from _paced_figures(ports, coverage, auth)
            for role in roles:
                _check_coverage(ports[role], coverage, auth, guarantee)
    finally:
        token_row.delete()


def _closed_loop_figures(
    ports: dict[str, int], coverage: str, auth: dict[str, str]
) -> Iterator[Figure]:
    # Interleaved rounds, so that a burst of load from elsewhere weighs on every series alike.
    answered = {"bare": 0, "rls": 0, "superuser": 0}
    seconds = dict.fromkeys(answered, 0.0)
    for _ in range(ROUNDS):
        for series, port, path in (
            ("bare", ports["rls"], "/bench/bare"),
            ("rls", ports["rls"], coverage),
            ("superuser", ports["superuser"], coverage),
        ):
            count, taken = _closed_loop(port, path, auth)
            answered[series] += count
            seconds[series] += taken
    rate = {series: answered[series] / seconds[series] for series in answered}
    name = "closed_loop_50_clients"
    yield f"bare_json_view.{name}.throughput", rate["bare"], "req/s"
    for role in ("rls", "superuser"):
        yield f"coverage.{role}.{name}.throughput", rate[role], "req/s"
    yield (
        f"coverage.rls_cost.{name}.throughput",
        rls_cost(rls=rate["rls"], superuser=rate["superuser"], higher_is_better=True),
        "%",
    )
    for role in ("rls", "superuser"):
        yield f"coverage.{role}.{name}.share_of_bare", 100 * rate[role] / rate["bare"], "%"
    share = 100 * rate["rls"] / rate["bare"]
    yield f"coverage.{name}.share_of_bare.target", SHARE_OF_BARE_TARGET, "%"
    yield f"coverage.{name}.share_of_bare.target_met", float(share >= SHARE_OF_BARE_TARGET), "bool"


def _paced_figures(ports: dict[str, int], coverage: str, auth: dict[str, str]) -> Iterator[Figure]:
    # The closed loop saturates two cores shared with the load generator, so its latency is
    # clients / throughput. Paced, at a fixed offered load: the latency an ERP sees at order time.
    name = "paced_100rps"
    p95: dict[str, float] = {}
    for series, port, path in (
        ("bare_json_view", ports["rls"], "/bench/bare"),
        ("coverage.rls", ports["rls"], coverage),
        ("coverage.superuser", ports["superuser"], coverage),
    ):
        began = time.perf_counter()
        samples = _hammer(
            port,
            path,
            auth,
            clients=CLIENTS,
            per_client=PACED_PER_CLIENT,
            interval_s=PACED_INTERVAL_S,
        )
        yield f"{series}.{name}.achieved", len(samples) / (time.perf_counter() - began), "req/s"
        for label, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
            yield f"{series}.{name}.{label}", percentile(samples, fraction), "ms"
        p95[series] = percentile(samples, 0.95)
    yield (
        f"coverage.rls_cost.{name}.p95",
        rls_cost(
            rls=p95["coverage.rls"], superuser=p95["coverage.superuser"], higher_is_better=False
        ),
        "%",
    )
    yield f"coverage.{name}.p95.target", PACED_P95_TARGET_MS, "ms"
    yield (
        f"coverage.{name}.p95.target_met",
        float(p95["coverage.rls"] < PACED_P95_TARGET_MS),
        "bool",
    )

"""Monitoring figures (issue 9): a BODACC file of 100 000 collective-proceedings notices imported
against a registry of 1 000 000 buyers and 200 000 top-ups (2 000 wholesalers × 100 buyers),
through the real services (read, store, the sweep `health_apply`), beside a bare SQL join of the
same notices (by SIREN) to the same top-ups in force, in the same run.

The book is large and the sweep ends top-ups, holds requests and writes alerts, notifications
and e-mails: it all happens in a database of its own (`<name>_bench_monitoring`, created by the
superuser of `DATABASE_ADMIN_URL` and owned by the benchmarks' ordinary role, migrated here,
dropped at the end), loaded with COPY and INSERT … SELECT generate_series inside
`scopes_disabled()`. The import runs as an arbiter's request does, in the arbiter's scope, under
row-level security. The kept file goes to a temporary media folder; no e-mail kick reaches a
worker.

`MONITORING_BENCH_SCALE=0.1` scales everything down; `MONITORING_BENCH_PROFILE=<path>`
writes cProfile statistics of the sweep to `<path>`.
"""

from __future__ import annotations

import cProfile
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from unittest import mock

from django.db import connection
from django.test.utils import override_settings
from stdnum import luhn

from benchmarks.database import own_database
from benchmarks.registry import Figure, benchmark

# `MONITORING_BENCH_SCALE=0.1` runs a tenth of everything (a quick profile of the same mix).
SCALE = float(os.environ.get("MONITORING_BENCH_SCALE", "1"))
BUYERS = int(1_000_000 * SCALE)
CONTRACTS = int(2_000 * SCALE)
PER_CONTRACT = 100
COVERED = BUYERS // 10  # the first tenth carry the top-ups (two wholesalers each on average)
OPEN_REQUESTS = int(20_000 * SCALE)
NOTICES = int(100_000 * SCALE)
COVERED_SHARE = 0.20  # of the notices, on buyers with top-ups
TODAY = date(2026, 11, 29)
SIREN_BASE = 30_000_000
MB = 1024 * 1024

R = TypeVar("R")


def _siren(index: int) -> str:
    base = f"{SIREN_BASE + index:08d}"
    return base + luhn.calc_check_digit(base)


# --- the database of its own ---------------------------------------------------------------


def _bench_database() -> AbstractContextManager[None]:
    """A fresh, migrated database for the run, dropped afterwards, under a name of its own so
    that it never meets the test suite's."""
    suffix = "" if SCALE == 1 else f"_{SCALE:g}".replace(".", "_")
    return own_database(f"{connection.settings_dict['NAME']}_bench_monitoring{suffix}")


# --- the book: buyers, wholesalers, contracts, top-ups, open requests --------------------------


def _execute(sql: str, params: Any = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _load_buyers() -> None:
    """1 000 000 registry buyers: the SIRENs computed here (Luhn), COPY into an index table,
    then INSERT … SELECT into the registry."""
    _execute("CREATE UNLOGGED TABLE bench_buyer (idx integer PRIMARY KEY, siren varchar(9))")
    with connection.cursor() as cursor, cursor.cursor.copy("COPY bench_buyer FROM STDIN") as copy:
        for start in range(0, BUYERS, 50_000):
            copy.write(
                "".join(f"{i}\t{_siren(i)}\n" for i in range(start, min(BUYERS, start + 50_000)))
            )
    _execute(
        """
        INSERT INTO underwriting_buyer (id, siren, vat_number, country, name, city, grade,
                                        proceedings, created_at)
        SELECT gen_random_uuid(), siren, NULL, 'FR', 'Revendeur ' || idx,
               (ARRAY['Paris','Lyon','Lille','Nantes','Toulouse'])[1 + idx % 5],
               3 + idx % 8, 'none', now()
          FROM bench_buyer ORDER BY idx
        """
    )
    _execute("ALTER TABLE bench_buyer ADD COLUMN id uuid")
    _execute("UPDATE bench_buyer x SET id = b.id FROM underwriting_buyer b WHERE b.siren = x.siren")


def _users(organisations: list[Any], *, prefix: str, role: str) -> None:
    """One user per organisation: who the alerts' notifications and e-mails are addressed to."""
    from portal.models import User

    User.objects.bulk_create(
        [
            User(
                username=f"{prefix}{i}@bench.invalid",
                email=f"{prefix}{i}@bench.invalid",
                organisation=organisation,
                role=role,
            )
            for i, organisation in enumerate(organisations)
        ]
    )


def _load_book() -> dict[str, Any]:
    from portal.models import Mandate, Organisation, OrganisationKind, Role, User
    from underwriting.models import Contract, ContractStatus

    insurer = Organisation.objects.create(
        kind=OrganisationKind.INSURER, name="Unlock Plus Assurance (banc)", siren="542065479"
    )
    arbiters = User.objects.bulk_create(
        [
            User(
                username=f"arbitre{i}@bench.invalid",
                email=f"arbitre{i}@bench.invalid",
                organisation=insurer,
                role=Role.ARBITER,
                authority_amount=Decimal("150000"),
            )
            for i in range(10)
        ]
    )
    policyholders = Organisation.objects.bulk_create(
        [
            Organisation(
                kind=OrganisationKind.POLICYHOLDER,
                name=f"Grossiste banc {i:04d}",
                siren=_siren(BUYERS + i),
                dedicated_arbiter=arbiters[i % len(arbiters)],
            )
            for i in range(CONTRACTS)
        ]
    )
    _users(policyholders, prefix="credit", role=Role.CREDIT_MANAGER)
    brokers = Organisation.objects.bulk_create(
        [
            Organisation(kind=OrganisationKind.BROKER, name=f"Courtier banc {i}", siren="")
            for i in range(20)
        ]
    )
    _users(brokers, prefix="courtier", role=Role.BROKER)
    # Half the wholesalers came through a broker (50 each).
    Mandate.objects.bulk_create(
        [
            Mandate(broker=brokers[i % 20], policyholder=p, starts_on=date(2026, 1, 1))
            for i, p in enumerate(policyholders[: CONTRACTS // 2])
        ]
    )
    Contract.objects.bulk_create(
        [
            Contract(
                policyholder=policyholder,
                number=f"BENCH-{i:06d}",
                primary_insurer_name="Allianz Trade",
                primary_policy_number=f"AT-{i:06d}",
                status=ContractStatus.ACTIVE,
                starts_on=date(2026, 1, 1),
                monthly_rate=Decimal("0.0012"),
            )
            for i, policyholder in enumerate(policyholders)
        ]
    )
    _execute(
        """
        CREATE UNLOGGED TABLE bench_contract AS
        SELECT (substr(number, 7))::integer AS n, id, policyholder_id
          FROM underwriting_contract WHERE number LIKE 'BENCH-%%'
        """
    )
    # 100 top-ups per contract on the covered buyers: buyer (7 919 n + stride j) mod covered is
    # distinct for each j of a contract; each covered buyer is held by two wholesalers on
    # average. One in ten ended in the summer (history, not in force).
    _execute(
        """
        INSERT INTO underwriting_guarantee (id, policyholder_id, contract_id, buyer_id, amount,
                                            primary_amount, period, change, created_at, note)
        SELECT gen_random_uuid(), c.policyholder_id, c.id, b.id,
               10000 + ((c.n * 7 + j * 13) %% 90) * 1000, 100000,
               CASE WHEN (c.n + j) %% 10 = 0 THEN daterange('2026-01-01', '2026-07-01', '[)')
                    ELSE daterange('2026-01-01', NULL, '[)') END,
               'grant', now(), ''
          FROM bench_contract c
         CROSS JOIN generate_series(0, %(per)s - 1) AS j
          JOIN bench_buyer b ON b.idx = (c.n * 7919 + j * %(stride)s) %% %(covered)s
        """,
        {"per": PER_CONTRACT, "covered": COVERED, "stride": COVERED // PER_CONTRACT},
    )
    submitter = User.objects.filter(role=Role.CREDIT_MANAGER).order_by("pk").first()
    assert submitter is not None
    # Open requests on buyers the wholesaler holds no top-up on yet (buyers 100 000 …).
    _execute(
        """
        INSERT INTO underwriting_guaranteerequest (
            id, policyholder_id, contract_id, buyer_id, exposure, primary_amount,
            requested_top_up, wants_maximum, credit_term_days, reason, comment, status,
            submitted_at, due_at, idempotency_key, idempotency_fingerprint, submitted_by_id,
            hold_reason)
        SELECT gen_random_uuid(), c.policyholder_id, c.id, b.id, 100000, 40000, 40000, false,
               60, 'new_order', '', 'open', now(), now() + interval '2 days', '', '',
               %(submitter)s, ''
          FROM generate_series(0, %(count)s - 1) AS k
          JOIN bench_contract c ON c.n = k %% %(contracts)s
          JOIN bench_buyer b ON b.idx = %(covered)s + (k * 37) %% (%(buyers)s - %(covered)s)
        """,
        {
            "submitter": submitter.pk,
            "count": OPEN_REQUESTS,
            "contracts": CONTRACTS,
            "covered": COVERED,
            "buyers": BUYERS,
        },
    )
    _execute("ANALYZE")
    return {"actor": arbiters[0]}


# --- the BODACC file -----------------------------------------------------------------------

LIQUIDATION = "Jugement prononçant la liquidation judiciaire"
RECEIVERSHIP = "Jugement d'ouverture d'une procédure de redressement judiciaire"
SAFEGUARD = "Jugement d'ouverture d'une procédure de sauvegarde"
PLAN = "Jugement arrêtant le plan de redressement"
CLOSURE = "Jugement de clôture pour insuffisance d'actif"
OTHER = "Jugement d'extension de procédure"
# (share, what): the mix of a few months of BODACC A collective notices.
MIX = [
    (0.40, LIQUIDATION),
    (0.27, RECEIVERSHIP),
    (0.06, SAFEGUARD),
    (0.09, PLAN),
    (0.08, CLOSURE),
    (0.02, OTHER),
    (0.03, "duplicate"),
    (0.03, "rectification"),
    (0.02, "cancellation"),
]
COURTS = [
    "TRIBUNAL DE COMMERCE DE PARIS",
    "TRIBUNAL DE COMMERCE DE LYON",
    "TRIBUNAL JUDICIAIRE DE LILLE",
]


def _record(
    number: int,
    *,
    siren: str,
    nature: str,
    judged_on: date,
    published_on: date,
    typeavis: str = "annonce",
    previous: dict[str, str] | None = None,
) -> dict[str, Any]:
    issue = f"2026{published_on.timetuple().tm_yday:04d}"
    record: dict[str, Any] = {
        "id": f"A{issue}{number}",
        "publicationavis": "A",
        "parution": issue,
        "dateparution": published_on.isoformat(),
        "numeroannonce": number,
        "typeavis": typeavis,
        "familleavis": "collective",
        "registre": [f"{siren[:3]} {siren[3:6]} {siren[6:]}", siren],
        "commercant": f"REVENDEUR {siren}",
        "tribunal": COURTS[number % len(COURTS)],
        "jugement": json.dumps(
            {"type": "initial", "famille": "Jugement", "nature": nature, "date": str(judged_on)},
            ensure_ascii=False,
        ),
    }
    if previous is not None:
        record["parutionavisprecedent"] = json.dumps(previous)
    return record


def _bodacc_file() -> tuple[bytes, list[str]]:
    """100 000 notices as JSON lines, and the SIREN of each (for the bare join)."""
    rng = random.Random(2026)  # noqa: S311 - test data, not security
    natures = [what for _share, what in MIX]
    weights = [share for share, _what in MIX]
    lines: list[str] = []
    sirens: list[str] = []
    written: list[dict[str, Any]] = []  # initial notices, for duplicates and corrections
    used: set[int] = set()
    for number in range(1, NOTICES + 1):
        what = rng.choices(natures, weights)[0]
        if what in ("duplicate", "rectification", "cancellation") and written:
            earlier = written[rng.randrange(len(written))]
            siren = earlier["registre"][1]
            judgment = json.loads(earlier["jugement"])
            judged_on = date.fromisoformat(judgment["date"])
            published_on = min(TODAY, date.fromisoformat(earlier["dateparution"]) + timedelta(7))
            previous = {
                "nomPublication": "BODACC A",
                "numeroParution": earlier["parution"],
                "dateParution": earlier["dateparution"],
                "numeroAnnonce": str(earlier["numeroannonce"]),
            }
            if what == "duplicate":  # the same judgment published again, as a new notice
                record = _record(
                    number,
                    siren=siren,
                    nature=judgment["nature"],
                    judged_on=judged_on,
                    published_on=published_on,
                )
            elif what == "rectification":  # the judgment's date corrected
                record = _record(
                    number,
                    siren=siren,
                    nature=judgment["nature"],
                    judged_on=judged_on - timedelta(days=1),
                    published_on=published_on,
                    typeavis="rectificatif",
                    previous=previous,
                )
            else:
                record = _record(
                    number,
                    siren=siren,
                    nature=judgment["nature"],
                    judged_on=judged_on,
                    published_on=published_on,
                    typeavis="annulation",
                    previous=previous,
                )
        else:
            if what not in (LIQUIDATION, RECEIVERSHIP, SAFEGUARD, PLAN, CLOSURE, OTHER):
                what = LIQUIDATION
            while True:  # one initial notice per buyer
                if rng.random() < COVERED_SHARE:
                    index = rng.randrange(COVERED)
                else:
                    index = rng.randrange(COVERED, BUYERS)
                if index not in used:
                    used.add(index)
                    break
            judged_on = date(2026, 9, 1) + timedelta(days=rng.randrange(80))
            record = _record(
                number,
                siren=_siren(index),
                nature=what,
                judged_on=judged_on,
                published_on=judged_on + timedelta(days=7 + rng.randrange(10)),
            )
            written.append(record)
        lines.append(json.dumps(record, ensure_ascii=False))
        sirens.append(record["registre"][1])
    return ("\n".join(lines) + "\n").encode(), sirens


# --- the bare join -------------------------------------------------------------------------


def _bare_join_load(sirens: list[str]) -> float:
    """COPY the notices' SIRENs into a table of their own."""
    _execute("CREATE UNLOGGED TABLE bench_notice (siren varchar(9))")
    start = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy("COPY bench_notice FROM STDIN") as copy:
        copy.write("".join(f"{siren}\n" for siren in sirens))
    return time.perf_counter() - start


def _bare_join() -> tuple[float, int, int]:
    """The notices joined by SIREN to the buyers and to the top-ups in force: rows, and the
    (buyer, wholesaler) pairs an alert would reach."""
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), count(DISTINCT (g.buyer_id, g.policyholder_id))
              FROM bench_notice n
              JOIN underwriting_buyer b ON b.siren = n.siren
              JOIN underwriting_guarantee g ON g.buyer_id = b.id AND g.period @> %s::date
            """,
            [TODAY],
        )
        rows, pairs = cursor.fetchone()
    return time.perf_counter() - start, rows, pairs


# --- the import, timed by phase ------------------------------------------------------------


class _Phases:
    """Wraps the import's steps to time each one inside the real `health_file_import`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.results: dict[str, Any] = {}

    def wrap(self, name: str, function: Callable[..., R]) -> Callable[..., R]:
        profile_path = os.environ.get("MONITORING_BENCH_PROFILE", "")

        def timed(*args: Any, **kwargs: Any) -> R:
            profiler = cProfile.Profile() if profile_path and name == "sweep" else None
            start = time.perf_counter()
            if profiler is not None:
                result = profiler.runcall(function, *args, **kwargs)
                profiler.dump_stats(profile_path)
            else:
                result = function(*args, **kwargs)
            self.seconds[name] = time.perf_counter() - start
            self.results[name] = result
            return result

        return timed


def _import(content: bytes, actor: Any) -> tuple[_Phases, float, Any, int]:
    from monitoring.common import DEFAULT_LIMITS
    from monitoring.providers import FileProvider
    from monitoring.services import imports
    from portal import tasks as portal_tasks
    from portal.tenancy import policyholder_scope_for, tenant_scope

    phases = _Phases()
    kicks = mock.MagicMock()
    with (
        # The scope the middleware gives the arbiter's upload (insurer staff: every tenant).
        tenant_scope(policyholder_scope_for(actor)),
        tempfile.TemporaryDirectory() as media,
        override_settings(MEDIA_ROOT=media, MONITORING_ASYNC_BYTES=DEFAULT_LIMITS.max_bytes),
        mock.patch.object(FileProvider, "add_bodacc", phases.wrap("read", FileProvider.add_bodacc)),
        mock.patch.object(
            imports, "_store_in_chunks", phases.wrap("store", imports._store_in_chunks)
        ),
        mock.patch.object(imports, "health_apply", phases.wrap("sweep", imports.health_apply)),
        # The bench database is dropped at the end: no e-mail kick may reach a worker.
        mock.patch.object(portal_tasks.deliveries_dispatch, "delay", kicks),
    ):
        start = time.perf_counter()
        file = imports.health_file_receive(
            kind="bodacc", name="bodacc-bench.jsonl", content=content, actor=actor
        )
        file = imports.health_file_import(file_id=file.pk)
        whole = time.perf_counter() - start
    return phases, whole, file, kicks.call_count


def _counts() -> dict[str, int]:
    from monitoring.models import Alert, AlertExposure
    from portal.models import Delivery, Notification
    from underwriting.models import Guarantee, GuaranteeRequest

    return {
        "alerts": Alert.objects.count(),
        "alert_exposures": AlertExposure.objects.all().count(),
        "notifications": Notification.objects.count(),
        "emails_pending": Delivery.objects.count(),
        "top_ups_in_force_after": Guarantee.objects.filter(period__contains=TODAY).count(),
        "requests_held": GuaranteeRequest.objects.filter(held_since__isnull=False).count(),
    }


@benchmark("monitoring")
def monitoring_sweep() -> Iterator[Figure]:
    from django_scopes import scopes_disabled

    start = time.perf_counter()
    content, sirens = _bodacc_file()
    yield "notices", NOTICES, "notices"
    yield "registry_buyers", BUYERS, "buyers"
    yield "top_ups", CONTRACTS * PER_CONTRACT, "top-ups"
    yield "file_size", len(content) / MB, "MB"
    yield "file_generation", time.perf_counter() - start, "s"
    with _bench_database():
        # The book is written, and the bare join runs, in the named bypass (under the same
        # policies as the sweep, which disables the scope for its own set-based statements).
        with scopes_disabled():
            start = time.perf_counter()
            _load_buyers()
            yield "load_buyers", time.perf_counter() - start, "s"
            start = time.perf_counter()
            book = _load_book()
            yield "load_top_ups_and_requests", time.perf_counter() - start, "s"

            # Before the sweep: the same top-ups in force as it finds (liquidation ends some).
            from underwriting.models import Guarantee

            in_force = Guarantee.objects.filter(period__contains=TODAY).count()
            yield "top_ups_in_force_before", in_force, "rows"
            copied = _bare_join_load(sirens)
            joined, rows, pairs = min(_bare_join() for _ in range(3))
        phases, whole, file, kicks = _import(content, book["actor"])
        applied = phases.results["sweep"]
        yield "read_file", phases.seconds["read"], "s"
        yield "store_notices", phases.seconds["store"], "s"
        yield "sweep_health_apply", phases.seconds["sweep"], "s"
        yield "whole_import", whole, "s"
        yield "notices_on_registry_buyers", file.records, "notices"
        yield "rejected_lines", len(file.problems), "lines"
        yield "duplicates", applied.duplicates, "notices"
        yield "replaced", applied.replaced, "notices"
        yield "withdrawn", applied.withdrawn, "notices"
        yield "buyers_moved", applied.buyers_moved, "buyers"
        with scopes_disabled():
            counts = _counts()
        for name, count in counts.items():
            yield name, count, "rows"
        yield "top_ups_ended_reported", applied.guarantees_ended, "top-ups"
        yield "requests_held_reported", applied.requests_held, "requests"
        yield "email_kicks_after_commit", kicks, "tasks"
        yield "bare_sql_copy_sirens", copied, "s"
        yield "bare_sql_join_notices_to_top_ups", joined, "s"
        yield "bare_sql_join_rows", rows, "rows"
        yield "bare_sql_join_exposed_pairs", pairs, "pairs"
        yield "sweep_vs_bare_sql_join", phases.seconds["sweep"] / joined, "x"
        _check(in_force=in_force, pairs=pairs, applied=applied, counts=counts)


def _check(*, in_force: int, pairs: int, applied: Any, counts: dict[str, int]) -> None:
    """What the sweep reports is what the database holds afterwards, and it reached the exposed
    wholesalers: a policy hiding rows from it would show as zeros here, not as a fast sweep."""
    assert in_force > 0 and pairs > 0, (in_force, pairs)
    assert applied.guarantees_ended > 0 and applied.requests_held > 0, vars(applied)
    assert counts["top_ups_in_force_after"] == in_force - applied.guarantees_ended, counts
    assert counts["requests_held"] == applied.requests_held, counts
    assert counts["alerts"] > 0 and counts["alert_exposures"] > 0, counts
    assert counts["notifications"] == counts["emails_pending"] > 0, counts

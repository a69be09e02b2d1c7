"""Foundation figures: the health check and the role home pages, beside a bare Django view.

The home pages are measured with the billing bench book beside the demo world (10 000
contracts, 1 000 000 guarantee periods, `benchmarks.billing._bench_book`): as insurer staff
(whose scope is every policyholder, the book included), as a demo wholesaler and broker, and
as the bench policyholder's credit manager (whose own book it is). Each figure has its query
count beside it; the bare view is a Django view that touches nothing, through the same
middleware, signed in.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from benchmarks.database import as_superuser, rls_cost
from benchmarks.registry import Figure, benchmark, summary, timed_ms
from portal.demo import DEMO_DOMAIN, build_demo_world
from portal.models import Organisation, Role, User
from portal.tenancy import policyholder_scope_for, tenant_scope
from underwriting.models import Contract, ContractStatus

BENCH_CREDIT_MANAGER = "credit.bench-homes@bench.unlockplus.test"
REPEAT = 50


def _signed_in(user: User) -> Client:
    """A client signed in as `user`; insurer staff with the session verified by a device, as the
    two-factor code page leaves it (or the gate would answer every page)."""
    client = Client()
    client.force_login(user)
    if user.organisation is not None and user.organisation.kind == "insurer":
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="bench", defaults={"confirmed": True}
        )
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def _page(prefix: str, client: Client, user: User, path: str) -> Iterator[Figure]:
    """Median and p95 of `path`; the number of SQL queries one answer makes, and the time
    PostgreSQL spends executing them (EXPLAIN ANALYZE, in the user's scope): on a loaded
    machine the page's time is mostly waiting, and this says how much of it the data costs."""
    client.get(path)  # the session's first answer writes what later ones only read
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    yield f"{prefix}.queries", float(len(queries)), "queries"
    yield f"{prefix}.sql_execution", _execution_ms(user, queries.captured_queries), "ms"
    yield from summary(prefix, timed_ms(lambda: client.get(path), repeat=REPEAT))
    yield f"{prefix}.cpu_median", _cpu_median_ms(lambda: client.get(path)), "ms"


def _cpu_median_ms(call: Callable[[], object], repeat: int = 20) -> float:
    """The CPU time this process spends on one answer (the test client runs the view in
    process): what the page costs when the machine is not shared, beside its wall time."""
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        call()
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def _execution_ms(user: User, captured: list[dict[str, str]]) -> float:
    total = 0.0
    with tenant_scope(policyholder_scope_for(user)), connection.cursor() as cursor:
        for query in captured:
            if not query["sql"].lstrip("(").startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
            total += float(cursor.fetchone()[0][0]["Execution Time"])
    return total


def _demo_user(name: str) -> User:
    return User.objects.select_related("organisation").get(username=f"{name}@{DEMO_DOMAIN}")


def _bench_credit_manager(policyholder: Organisation) -> User:
    with scopes_disabled():
        user, _ = User.objects.get_or_create(
            username=BENCH_CREDIT_MANAGER,
            defaults={
                "email": BENCH_CREDIT_MANAGER,
                "organisation": policyholder,
                "role": Role.CREDIT_MANAGER,
            },
        )
    return user


def _billing_bench_book() -> Organisation:
    """The billing benchmark's 10 000-contract book (its `Book` description when it has one)."""
    billing: Any = import_module("benchmarks.billing")
    book = getattr(billing, "Book", None)
    arguments = (book(billing.CONTRACTS),) if book is not None else ()
    policyholder, _contracts = billing._bench_book(*arguments)
    return policyholder


def _home_pages(bench_user: User) -> Iterator[Figure]:
    homes = [
        ("wholesaler_dashboard", _demo_user("credit.distrilog"), "dashboard"),
        ("bench_policyholder_dashboard", bench_user, "dashboard"),
        ("broker_home", _demo_user("courtier"), "broker_clients"),
        ("arbiter_home", _demo_user("arbitre1"), "backoffice"),
        ("senior_home", _demo_user("senior"), "backoffice"),
        ("finance_home", _demo_user("finance"), "finance_home"),
    ]
    for name, user, url_name in homes:
        client, path = _signed_in(user), reverse(url_name)
        yield from _page(name, client, user, path)
        yield from _beside_the_superuser(name, client, path)


def _beside_the_superuser(name: str, client: Client, path: str) -> Iterator[Figure]:
    """The page again as the ordinary role and as the superuser, one after the other in this
    run (issue 15 §1): what row-level security costs this page."""
    rls = timed_ms(lambda: client.get(path), repeat=REPEAT)
    with as_superuser():
        superuser = timed_ms(lambda: client.get(path), repeat=REPEAT)
    yield f"{name}.rls.median", statistics.median(rls), "ms"
    yield f"{name}.superuser.median", statistics.median(superuser), "ms"
    yield (
        f"{name}.rls_cost.median",
        rls_cost(
            rls=statistics.median(rls),
            superuser=statistics.median(superuser),
            higher_is_better=False,
        ),
        "%",
    )


@benchmark("portal")
def portal_pages() -> Iterator[Figure]:
    build_demo_world()
    # The billing bench book beside the demo world (written once with COPY, then reused): the
    # home pages are measured with it in the database.
    policyholder = _billing_bench_book()
    client = Client()
    yield from summary("bare_json_view", timed_ms(lambda: client.get("/bench/bare"), repeat=200))
    yield from summary("healthz", timed_ms(lambda: client.get("/healthz"), repeat=200))
    user = _demo_user("credit.distrilog")
    # The middleware's scope shows the wholesaler its contracts under row-level security.
    with scopes_disabled():
        numbers = list(
            Contract.objects.filter(policyholder=user.organisation)
            .exclude(status=ContractStatus.TERMINATED)
            .values_list("number", flat=True)
        )
    page = _signed_in(user).get("/portal/")
    assert page.status_code == 200, page.status_code
    assert numbers and all(number in page.content.decode() for number in numbers), numbers
    # The bare view through the same middleware, signed in (session, scope, two-factor gate).
    yield from _page("bare_json_view_signed_in", _signed_in(user), user, "/bench/bare")
    yield from _home_pages(_bench_credit_manager(policyholder))

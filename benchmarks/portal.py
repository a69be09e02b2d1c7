"""Foundation figures: the health check and a role home page, beside a bare Django view."""

from __future__ import annotations

from collections.abc import Iterator

from django.test import Client

from benchmarks.registry import Figure, benchmark, summary, timed_ms
from portal.demo import build_demo_world
from portal.models import User


@benchmark("portal")
def portal_pages() -> Iterator[Figure]:
    build_demo_world()
    client = Client()
    yield from summary("bare_json_view", timed_ms(lambda: client.get("/bench/bare"), repeat=200))
    yield from summary("healthz", timed_ms(lambda: client.get("/healthz"), repeat=200))
    client.force_login(User.objects.get(username="credit.distrilog@demo.unlockplus.fr"))
    yield from summary("wholesaler_dashboard", timed_ms(lambda: client.get("/portal/"), repeat=100))

"""Foundation figures: the health check and a role home page, beside a bare Django view."""

from __future__ import annotations

from collections.abc import Iterator

from django.test import Client
from django_scopes import scopes_disabled

from benchmarks.registry import Figure, benchmark, summary, timed_ms
from portal.demo import build_demo_world
from portal.models import User
from underwriting.models import Contract


@benchmark("portal")
def portal_pages() -> Iterator[Figure]:
    build_demo_world()
    client = Client()
    yield from summary("bare_json_view", timed_ms(lambda: client.get("/bench/bare"), repeat=200))
    yield from summary("healthz", timed_ms(lambda: client.get("/healthz"), repeat=200))
    user = User.objects.get(username="credit.distrilog@demo.unlockplus.fr")
    client.force_login(user)
    # The middleware's scope shows the wholesaler its contracts under row-level security.
    with scopes_disabled():
        numbers = list(
            Contract.objects.filter(policyholder=user.organisation).values_list("number", flat=True)
        )
    page = client.get("/portal/")
    assert page.status_code == 200, page.status_code
    assert numbers and all(number in page.content.decode() for number in numbers), numbers
    yield from summary("wholesaler_dashboard", timed_ms(lambda: client.get("/portal/"), repeat=100))

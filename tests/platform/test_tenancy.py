"""Tenants cannot see each other: every route that takes an object id answers 404 to outsiders.

The routes are discovered from the URL configuration, so a new route is covered the day it is
added; a route this file cannot build an object for fails the test until `OBJECTS` learns it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django_scopes import ScopeError

from portal.models import Role
from tests.support.clients import client_for
from tests.support.scopes import acting_as, scope_of
from tests.support.underwriting import objects_for
from tests.support.world import Tenant, World
from underwriting.models import Contract

# Route kwargs that never designate a tenant's object.
NON_OBJECT_KWARGS = {"format", "uidb64", "token", "app_label", "object_id", "url"}

# How to build, for a tenant, the object a route's id designates. Keyed by kwarg name, or by
# "<url name>:<kwarg>" where the kwarg name alone is ambiguous (DRF's `pk`).
ObjectFor = Callable[[World, Tenant], Any]


def tenant_invoice(world: World, tenant: Tenant) -> Any:
    """The tenant's premium invoice for last month (issued on first use)."""
    from datetime import date

    from billing.models import Invoice
    from billing.premium import month_before, month_first
    from portal.timeutils import business_today
    from tests.support.billing import guarantee, issued
    from tests.support.factories import BuyerFactory

    month = month_before(month_first(business_today()))
    existing = Invoice.objects.filter(contract=tenant.contract, month=month).first()
    if existing is not None:
        return existing.pk
    guarantee(tenant.contract, BuyerFactory.create(), "40000", date(2020, 1, 1))
    with acting_as(world.staff["finance_ops"]):
        return issued(tenant.contract, month).pk


def billing_run(world: World, tenant: Tenant) -> Any:
    """Billing runs are insurer-wide: nobody outside finance ops may open one."""
    from billing.models import BillingRun, BillingRunTrigger
    from billing.premium import month_before, month_first
    from portal.timeutils import business_today

    month = month_before(month_first(business_today()))
    return BillingRun.objects.get_or_create(month=month, trigger=BillingRunTrigger.COMMAND)[0].pk


_STUDIES: dict[tuple[int, Any], Any] = {}


def tenant_study(world: World, tenant: Tenant) -> Any:
    """The tenant's study, its one-line buyer list analysed (built once per world)."""
    from studies import services as study_services
    from tests.support.factories import BuyerFactory

    key = (id(world), tenant.organisation.pk)  # a new world's ids are new: never a stale study
    if key not in _STUDIES:
        buyer = BuyerFactory.create()
        content = f"SIREN;Raison sociale;Encours;Limite primaire\n{buyer.siren};X;100000;40000\n"
        user = tenant.credit_manager
        with acting_as(user):
            study = study_services.study_start(contract=tenant.contract, actor=user)
            study_services.study_upload(
                study_id=study.pk, content=content.encode(), filename="a.csv", actor=user
            )
        _STUDIES[key] = study
    return _STUDIES[key]


def tenant_study_line(world: World, tenant: Tenant) -> Any:
    from studies.models import StudyLine

    return StudyLine.objects.filter(study=tenant_study(world, tenant)).get().pk


def health_file(world: World, tenant: Tenant) -> Any:
    """A buyer-health file (insurer-wide import history: only those who import may open it)."""
    from tests.support.monitoring import imported, json_lines, notice

    with acting_as(world.staff["arbiter"]):
        return imported(world.staff["arbiter"], json_lines(notice())).pk


_CLAIMS: dict[tuple[int, Any], Any] = {}


def tenant_claim(world: World, tenant: Tenant) -> Any:
    """The tenant's claim: one unpaid invoice on a covered buyer (built once per world)."""
    from tests.support.claims import covered_buyer, declared, recently_due, unpaid

    key = (id(world), tenant.organisation.pk)
    if key not in _CLAIMS:
        buyer = covered_buyer(tenant)
        invoice = unpaid(f"F-{buyer.siren}", "50000", delivered=recently_due())
        _CLAIMS[key] = declared(tenant, buyer, invoice)
    return _CLAIMS[key]


def tenant_claim_document(world: World, tenant: Tenant) -> Any:
    """A PDF supporting the tenant's claim (added once per claim)."""
    from claims.models import ClaimDocument
    from claims.services import claim_document_add

    claim = tenant_claim(world, tenant)
    existing = ClaimDocument.objects.filter(claim=claim).first()
    if existing is not None:
        return existing
    actor = tenant.credit_manager
    with acting_as(actor):
        return claim_document_add(
            claim_id=claim.pk, name="facture.pdf", content=b"%PDF-1.4\n%%EOF\n", actor=actor
        )


_THREADS: dict[tuple[int, Any], Any] = {}


def tenant_thread(world: World, tenant: Tenant) -> Any:
    """A thread in the tenant's conversation space, its first message with a PDF attached."""
    from conversations import services as conversation_services

    key = (id(world), tenant.organisation.pk)
    if key not in _THREADS:
        actor = tenant.credit_manager
        with acting_as(actor):
            _THREADS[key] = conversation_services.thread_start(
                policyholder=tenant.organisation,
                subject="Question",
                body="Pouvez-vous revoir la limite ?",
                actor=actor,
                attachments=[
                    conversation_services.AttachmentInput("bilan.pdf", b"%PDF-1.4\n%%EOF\n")
                ],
            )
    return _THREADS[key]


def tenant_attachment(world: World, tenant: Tenant) -> Any:
    from conversations.models import Attachment

    return Attachment.objects.filter(message__thread=tenant_thread(world, tenant)).get().pk


def tenant_api_token_key(tenant: Tenant) -> str:
    from knox.models import AuthToken

    instance, _ = AuthToken.objects.create(user=tenant.users[Role.CREDIT_MANAGER])
    return str(instance.token_key)


def tenant_browser_session(tenant: Tenant) -> Any:
    """A browser session of one of the tenant's users (the sessions page ends one's own only)."""
    import secrets

    from django.utils import timezone

    from portal.models import UserSession

    now = timezone.now()
    return UserSession.objects.create(
        session_key=secrets.token_hex(16),
        user=tenant.users[Role.CREDIT_MANAGER],
        created_at=now,
        last_seen_at=now,
    ).pk


OBJECTS: dict[str, ObjectFor] = {
    "policyholder_id": lambda world, tenant: tenant.organisation.pk,
    # an API token of one of the tenant's users (the tokens page revokes one's own only)
    "token_key": lambda world, tenant: tenant_api_token_key(tenant),
    # a browser session of one of the tenant's users (ended from its owner's sessions page)
    "session_id": lambda world, tenant: tenant_browser_session(tenant),
    "contract_id": lambda world, tenant: tenant.contract.pk,
    "policyholder-detail:pk": lambda world, tenant: tenant.organisation.pk,
    **{
        f"contract-{name}:pk": (lambda world, tenant: tenant.contract.pk)
        for name in ("detail", "terminate", "suspend")
    },
    # underwriting: a buyer the tenant holds a guarantee on, its open request, its guarantee
    "buyer_id": lambda world, tenant: objects_for(world, tenant).buyer.pk,
    "request_id": lambda world, tenant: objects_for(world, tenant).request.pk,
    "guarantee_id": lambda world, tenant: objects_for(world, tenant).guarantee.pk,
    **{
        f"guarantee-request-{name}:pk": (
            lambda world, tenant: objects_for(world, tenant).request.pk
        )
        for name in ("detail", "withdraw", "decide", "countersign", "assign", "resume")
    },
    **{
        f"guarantee-{name}:pk": (lambda world, tenant: objects_for(world, tenant).guarantee.pk)
        for name in ("detail", "reduce", "cancel")
    },
    "invoice_id": tenant_invoice,
    "invoice-detail:pk": tenant_invoice,
    "invoice-pdf:pk": tenant_invoice,
    "invoice-credit-note:pk": tenant_invoice,
    "invoice-payments:pk": tenant_invoice,
    "run_id": billing_run,
    "billingrun-detail:pk": billing_run,
    # studies (API): the tenant's study; the line of `lines/<line_id>/adjust/`
    **{
        f"study-{name}:pk": (lambda world, tenant: tenant_study(world, tenant).pk)
        for name in (
            "detail",
            "upload",
            "lines",
            "verdicts",
            "submit",
            "line-adjust",
            "finalise",
            "countersign",
            "report",
            "accept",
            "decline",
        )
    },
    "study-line-adjust:line_id": tenant_study_line,
    # studies (pages): the same study and its line, by the pages' kwarg names
    "study_id": lambda world, tenant: tenant_study(world, tenant).pk,
    "line_id": tenant_study_line,
    # monitoring (API): a health file of the import history
    "health-file-detail:pk": health_file,
    # monitoring (pages): the same file, by the back-office page's kwarg name
    "file_id": health_file,
    # claims: the tenant's claim; the back office's action (assigning: any handler may)
    "claim_id": lambda world, tenant: tenant_claim(world, tenant).pk,
    "claim_action:action": lambda world, tenant: "assign",
    # claims (pages): a supporting document of that claim
    "document_id": lambda world, tenant: tenant_claim_document(world, tenant).pk,
    # claims (API): the same claim, by DRF's `pk`
    **{
        f"claim-{name}:pk": (lambda world, tenant: tenant_claim(world, tenant).pk)
        for name in ("detail", "invoices", "invoices-upload", "documents")
    },
    # conversations: a thread of the tenant's space and its attachment (pages and API)
    "thread_id": lambda world, tenant: tenant_thread(world, tenant).pk,
    "attachment_id": tenant_attachment,
    "thread-detail:pk": lambda world, tenant: tenant_thread(world, tenant).pk,
    "thread-messages:pk": lambda world, tenant: tenant_thread(world, tenant).pk,
}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    kwargs: tuple[str, ...]


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if namespace == "" and entry.app_name == "admin":
                continue  # Django admin: insurer superusers only, tested separately.
            child_ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), child_ns)
        elif isinstance(entry, URLPattern):
            pattern = entry.pattern
            if isinstance(pattern, RoutePattern):
                names = tuple(pattern.converters)
            elif isinstance(pattern, RegexPattern):
                names = tuple(pattern.regex.groupindex)
            else:  # pragma: no cover
                names = ()
            object_kwargs = tuple(name for name in names if name not in NON_OBJECT_KWARGS)
            if object_kwargs:
                yield Route(f"{namespace}{entry.name}", prefix + str(pattern), object_kwargs)


ROUTES = sorted(set(walk(get_resolver().url_patterns)), key=lambda route: route.name)


def build_url(route: Route, world: World, tenant: Tenant) -> str:
    from django.urls import reverse

    kwargs = {}
    for kwarg in route.kwargs:
        factory = OBJECTS.get(f"{route.name}:{kwarg}") or OBJECTS.get(kwarg)
        if factory is None:
            pytest.fail(
                f"Route {route.name} ({route.path}) takes `{kwarg}`: teach OBJECTS in "
                "tests/test_tenancy.py how to build one for a tenant."
            )
        with scope_of(tenant):
            kwargs[kwarg] = factory(world, tenant)
    return reverse(route.name, kwargs={**kwargs, **CREDENTIAL_KWARGS.get(route.name, {})})


# Routes whose link carries its own credential: walked with a token that is not the tenant's.
CREDENTIAL_KWARGS = {"study_invitation": {"uidb64": "MQ", "token": "cxyz-0123456789abcdef"}}


def status_for(client: Any, url: str) -> int:
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return int(response.status_code)


def test_the_walker_finds_the_object_routes() -> None:
    names = {route.name for route in ROUTES}
    assert {"contract_detail", "policyholder_detail", "contract-detail"} <= names
    assert {
        "buyer_page",
        "request_new",
        "request_detail",
        "arbiter_request",
        "buyer_risk_file",
        "guarantee_change",
        "guarantee-request-detail",
        "guarantee-request-decide",
        "guarantee-reduce",
        "buyer_insight_publish",
    } <= names


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_an_outsider_gets_404_on_every_object_route(world: World, route: Route) -> None:
    url = build_url(route, world, world.alice)
    outsiders = [*world.bob.users.values(), *world.charlie.users.values()]
    for outsider in outsiders:
        assert status_for(client_for(outsider), url) == 404, (url, outsider.username)
    # The same route is reachable by someone entitled to it, so the 404 above means "not yours".
    # (A link that is its own credential opens for its token only: tests/studies.)
    if route.name not in CREDENTIAL_KWARGS:
        insiders = [*world.alice.users.values(), world.broker_user, *world.staff.values()]
        assert any(status_for(client_for(user), url) != 404 for user in insiders), url


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.name)
def test_a_broker_gets_404_for_a_policyholder_it_has_no_mandate_for(
    world: World, route: Route
) -> None:
    url = build_url(route, world, world.bob)
    assert status_for(client_for(world.broker_user), url) == 404, url


def test_a_broker_whose_mandate_ended_loses_sight_of_the_policyholder(world: World) -> None:
    from datetime import date

    from portal.models import Mandate

    Mandate.objects.filter(broker=world.broker).update(ends_on=date(2026, 1, 31))
    client = client_for(world.broker_user)
    assert client.get(f"/policyholders/{world.alice.organisation.pk}/").status_code == 404
    assert client.get("/api/v1/contracts/").json()["count"] == 0


def test_a_query_without_a_scope_raises_instead_of_returning_everything(world: World) -> None:
    with pytest.raises(ScopeError):
        list(Contract.objects.all())


def test_lists_show_only_the_callers_rows(world: World) -> None:
    alice = client_for(world.alice.credit_manager).get("/api/v1/contracts/").json()
    assert [row["number"] for row in alice["results"]] == [world.alice.contract.number]
    broker = client_for(world.broker_user).get("/api/v1/policyholders/").json()
    assert [row["name"] for row in broker["results"]] == [world.alice.organisation.name]
    arbiter = client_for(world.staff["arbiter"]).get("/api/v1/contracts/").json()
    assert arbiter["count"] == 2  # alice's and bob's: charlie owns none


def test_token_authenticated_api_calls_are_scoped_too(world: World) -> None:
    from django.test import Client
    from knox.models import AuthToken

    _, key = AuthToken.objects.create(user=world.bob.credit_manager)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"/api/v1/contracts/{world.alice.contract.pk}/").status_code == 404
    own = client.get(f"/api/v1/contracts/{world.bob.contract.pk}/")
    assert own.status_code == 200
    assert own.json()["number"] == world.bob.contract.number

"""Every role sees on its home page only the actions it may use: no link that answers 404 or 403,
no form it may not submit; and each key action is offered exactly when `portal.policy` allows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from portal import policy
from portal.models import User
from tests.support.clients import client_for
from tests.support.roles import POLICYHOLDER_ROLES, ROLES, user_for
from tests.support.world import World


@dataclass
class Link:
    href: str
    testid: str | None


@dataclass
class PageActions(HTMLParser):
    """The `<a href>` and `<form action>` of a page."""

    links: list[Link] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(Link(str(values["href"]), values.get("data-testid")))
        elif tag == "form":
            self.forms.append(values.get("action") or "")


def actions_of(html: str) -> PageActions:
    parser = PageActions()
    parser.feed(html)
    parser.close()
    return parser


def always(user: Any) -> bool:
    return True


# The policy answer behind each form a home page may carry, by the URL name of its action.
FORM_POLICY: dict[str, Callable[[Any], bool]] = {
    "logout": always,
    "set_language": always,
    "buyer_search": policy.can_look_up_buyers,
    "request_new": policy.can_request_top_up,
    "request_withdraw": policy.can_withdraw_request,
    "primary_report": policy.can_report_primary,
    "arbiter_request": policy.can_decide,
    "request_assign": policy.can_assign_requests,
    "request_countersign": policy.can_countersign,
    "guarantee_change": policy.can_change_guarantees,
    "contract_end": policy.can_manage_contracts,
    "billing_run_create": policy.can_run_billing,
    "credit_note_create": policy.can_issue_credit_note,
}

# A link a home page may show without the test opening it.
SKIPPED_PREFIXES = ("/static/", "/media/", "/api/docs/", "/api/schema/")

# What the application gets wrong today. Each is a strict xfail of that single case: fixing the
# application makes it an XPASS failure, and the entry is to be removed.
KNOWN_BAD_LINKS: dict[str, str] = {}  # role -> reason
KNOWN_BAD_KEY_ACTIONS: dict[tuple[str, str], str] = {}  # (key action, role) -> reason


@dataclass
class Home:
    user: User
    client: Client
    path: str
    status: int
    actions: PageActions


def home_of(world: World, role: str) -> Home:
    user = user_for(world, role)
    client = client_for(user)
    response = client.get("/", follow=True)
    return Home(
        user=user,
        client=client,
        path=response.request["PATH_INFO"],
        status=response.status_code,
        actions=actions_of(response.content.decode()),
    )


ACTIVE_ROLES = [role for role in ROLES if role != "inactive"]


def test_an_inactive_user_is_sent_to_sign_in(world: World) -> None:
    response = client_for(user_for(world, "inactive")).get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ACTIVE_ROLES)
def test_slash_leads_each_role_to_its_home_page(world: World, role: str) -> None:
    home = home_of(world, role)
    assert home.path == reverse(policy.role_home(home.user))
    # The page for a user without organisation says so with a 403; every other home opens.
    assert home.status == (403 if role == "no_organisation" else 200)


def _same_site_path(href: str) -> str | None:
    parts = urlsplit(href)
    if parts.scheme not in ("", "http", "https") or parts.netloc not in ("", "testserver"):
        return None
    if not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _url_name(path: str) -> str:
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return "<no route>"
    return match.view_name


def _xfail_if(reason: str | None) -> list[Any]:
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


@pytest.mark.parametrize(
    "role",
    [
        pytest.param(role, id=role, marks=_xfail_if(KNOWN_BAD_LINKS.get(role)))
        for role in ACTIVE_ROLES
    ],
)
def test_no_link_on_the_home_page_answers_404_or_403(world: World, role: str) -> None:
    home = home_of(world, role)
    admin_index = reverse("admin:index")
    broken = {}
    opened = 0
    for link in home.actions.links:
        path = _same_site_path(link.href)
        if path is None or path.startswith(SKIPPED_PREFIXES):
            continue
        if path == home.path:
            continue  # the page itself (for a user without organisation, a 403 by design)
        if path.startswith(admin_index) and not policy.can_use_admin_site(home.user):
            broken[path] = "admin link shown to a user who may not use the admin site"
            continue
        status = home.client.get(path).status_code
        opened += 1
        if status in (403, 404) or status >= 500:
            broken[path] = f"{_url_name(path)} answers {status}"
    assert broken == {}, f"{role} on {home.path}"
    assert opened > 0


@pytest.mark.parametrize("role", ACTIVE_ROLES)
def test_every_form_on_the_home_page_is_one_the_policy_allows(world: World, role: str) -> None:
    home = home_of(world, role)
    refused = {}
    for action in home.actions.forms:
        path = _same_site_path(action or home.path)
        assert path is not None, action
        name = _url_name(path)
        check = FORM_POLICY.get(name)
        if check is None:
            pytest.fail(f"A form posts to {name} ({path}): teach FORM_POLICY its policy function.")
        if not check(home.user):
            refused[path] = name
    assert refused == {}, f"{role} is offered forms the policy refuses"


@dataclass(frozen=True)
class KeyAction:
    """A link a home page offers exactly when the policy says the user may follow it."""

    name: str
    may: Callable[[Any], bool]
    matches: Callable[[Link], bool]
    roles: tuple[str, ...] = tuple(ACTIVE_ROLES)


def _href_is(url_name: str) -> Callable[[Link], bool]:
    return lambda link: _same_site_path(link.href) == reverse(url_name)


KEY_ACTIONS = [
    # The top-up button is on the wholesaler dashboard: the homes of the policyholder roles.
    KeyAction(
        "new-request",
        policy.can_request_top_up,
        lambda link: link.testid == "new-request",
        roles=POLICYHOLDER_ROLES,
    ),
    KeyAction("nav-queue", policy.can_see_queue, lambda link: link.testid == "nav-queue"),
    KeyAction("invoices", policy.can_see_invoices, _href_is("invoice_list")),
    KeyAction("billing", policy.can_run_billing, _href_is("billing_home")),
    KeyAction("admin", policy.can_use_admin_site, _href_is("admin:index")),
]


@pytest.mark.parametrize(
    ("key", "role"),
    [
        pytest.param(
            key,
            role,
            id=f"{key.name}-{role}",
            marks=_xfail_if(KNOWN_BAD_KEY_ACTIONS.get((key.name, role))),
        )
        for key in KEY_ACTIONS
        for role in key.roles
    ],
)
def test_the_home_page_offers_a_key_action_exactly_when_the_policy_allows_it(
    world: World, key: KeyAction, role: str
) -> None:
    home = home_of(world, role)
    offered = any(key.matches(link) for link in home.actions.links)
    assert offered == key.may(home.user), (
        f"{role} on {home.path}: {key.name} offered={offered}, policy says {key.may(home.user)}"
    )


def test_alices_finance_user_is_not_offered_a_top_up_it_could_not_request(
    world: World,
) -> None:
    home = home_of(world, "finance")
    assert home.path == reverse("dashboard")
    assert not any(link.testid == "new-request" for link in home.actions.links)
    assert "Demander un top-up" not in str(home.client.get(reverse("dashboard")).content.decode())
    # ... while the credit manager of the same dashboard is offered it.
    manager = home_of(world, "credit_manager")
    assert any(link.testid == "new-request" for link in manager.actions.links)

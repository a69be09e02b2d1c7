"""Accessibility in Chromium: axe-core (axe-playwright-python, which evaluates its bundled
`axe.min.js` in the page through the DevTools protocol, so our CSP stays on) over every page each
role reaches from its menu and its account menu, in French and in English, and over the error
states of the forms: no violation of WCAG 2.1 A/AA.

The Django admin and the API docs (Swagger UI) are third-party pages and are not checked.

With UNLOCKPLUS_SCREENSHOTS=<folder> (`make screenshots`), `test_home_page_screenshots` writes
each role's home page at 1366×900 in both languages as `<role>-home-<lang>.png`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from pytest_django.live_server_helper import LiveServer

from portal.models import Role, User
from tests.support.browser import sign_in
from tests.support.claims import covered_buyer, declared, recently_due, unpaid
from tests.support.factories import PASSWORD, BuyerFactory, siren_for
from tests.support.studies import buyer_row, study_at
from tests.support.underwriting import objects_for
from tests.support.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

    from billing.models import Invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LANGUAGES = ("fr", "en")
# Third-party pages (their own markup), files, and what signs out or changes state.
SKIPPED_PREFIXES = ("/admin/", "/api/", "/static/", "/i18n/", "/logout/")
SKIPPED_SUFFIXES = (".pdf", ".csv", ".xlsx", "/pdf/")

ERROR_MESSAGES = ".errorlist, .messages .error, [role=alert], .verdict.ko, .line-errors"

ROLES: dict[str, Any] = {
    "credit_manager": lambda world: world.alice.credit_manager,
    "finance": lambda world: world.alice.finance,
    "org_admin": lambda world: world.alice.users[Role.ORG_ADMIN],
    "broker": lambda world: world.broker_user,
    "arbiter": lambda world: world.staff[Role.ARBITER],
    "senior_arbiter": lambda world: world.staff[Role.SENIOR_ARBITER],
    "claims_handler": lambda world: world.staff[Role.CLAIMS_HANDLER],
    "finance_ops": lambda world: world.staff[Role.FINANCE_OPS],
    "admin": lambda world: world.staff[Role.ADMIN],
}


@dataclass
class Findings:
    """Violations by page: `{"<role> <lang> <path>": ["<rule> (<impact>): <targets>", ...]}`."""

    violations: dict[str, list[str]] = field(default_factory=dict)
    # Pages that answer 403, 404 or 5xx, and error states that show no error.
    broken: dict[str, int | str] = field(default_factory=dict)
    pages: int = 0

    def check(
        self,
        page: Page,
        label: str,
        *,
        within: str | None = None,
        errors: bool = False,
        status: int | None = None,
    ) -> None:
        """axe over the page (or the part `within` selects), once htmx has filled it in; with
        `errors`, the page must show an error message (a form's error state); an error page
        says which `status` it answers."""
        from axe_playwright_python.sync_playwright import Axe

        page.wait_for_load_state()
        page.wait_for_function("() => !document.querySelector('.htmx-request')")
        where = f"{label} {urlsplit(page.url).path}" + (f" {within}" if within else "")
        answered = page.evaluate(
            "() => performance.getEntriesByType('navigation')[0].responseStatus"
        )
        if answered != status and (answered >= 500 or answered in (403, 404)):
            self.broken[where] = answered
        if errors and not page.locator(ERROR_MESSAGES).count():
            self.broken[where] = "no error message shown"
        results = Axe().run(
            page,
            context={"include": [[within]]} if within else None,
            options={
                "runOnly": {"type": "tag", "values": WCAG_21_AA},
                "resultTypes": ["violations"],
            },
        )
        self.pages += 1
        found = [
            f"{violation['id']} ({violation.get('impact')}): "
            + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            for violation in results.response["violations"]
        ]
        if found:
            self.violations[where] = found

    def report(self) -> str:
        lines = [f"{len(self.violations)} of {self.pages} pages have violations:"]
        for where, violations in sorted(self.violations.items()):
            lines.append(f"  {where}")
            lines.extend(f"    {violation}" for violation in violations)
        if self.broken:
            lines.append(f"{len(self.broken)} pages answer an error instead:")
            lines.extend(f"  {where}: {status}" for where, status in sorted(self.broken.items()))
        return "\n".join(lines)


@dataclass
class Arranged:
    """What the pages show besides the base world: a request and a guarantee per tenant, a
    claim, a study with a bad line, an invoice."""

    contract_id: str
    buyer_id: str
    request_id: str
    claim_buyer_id: str
    study_id: str
    invoice_id: str


@pytest.fixture
def arranged(world: World) -> Arranged:
    objects = objects_for(world, world.alice)
    objects_for(world, world.bob)
    claim_buyer = covered_buyer(world.alice)
    declared(
        world.alice,
        covered_buyer(world.alice),
        unpaid("F-A11Y-1", "25000", delivered=recently_due()),
    )
    study = study_at(world, "draft", buyer_row(siren_for(901)), tenant=world.alice)
    invoice = _an_invoice(world)
    # Playwright's greenlet would otherwise hold this connection past the end of the test.
    connection.close()
    return Arranged(
        contract_id=str(world.alice.contract.pk),
        buyer_id=str(BuyerFactory.create(name="Acheteur Accessible").pk),
        request_id=str(objects.request.pk),
        claim_buyer_id=str(claim_buyer.pk),
        study_id=str(study.pk),
        invoice_id=str(invoice.pk),
    )


def _an_invoice(world: World) -> Invoice:
    from billing.premium import month_before, month_first
    from portal.timeutils import business_today
    from tests.support.billing import guarantee, issued
    from tests.support.scopes import acting_as

    month = month_before(month_first(business_today()))
    guarantee(world.alice.contract, BuyerFactory.create(), "40000", date(2020, 1, 1))
    with acting_as(world.staff[Role.FINANCE_OPS]):
        return issued(world.alice.contract, month)


def base_url(live_server: LiveServer) -> str:
    # An IP address: Chromium does not try to upgrade it to https.
    return live_server.url.replace("localhost", "127.0.0.1")


def signed_in(chromium: Browser, base: str, user: User) -> tuple[BrowserContext, Page]:
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, base, user.username, PASSWORD)
    return context, page


def switch_language(page: Page, language: str) -> None:
    """The way a user does it: the language buttons of the header."""
    with page.expect_navigation():
        page.click(f"form.lang button[value={language}]")


def menu_paths(page: Page, base: str) -> list[str]:
    """The same-site pages of the main menu and of the account menu."""
    hrefs = page.eval_on_selector_all(
        "header nav a[href]", "links => links.map(link => link.getAttribute('href'))"
    )
    paths: list[str] = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.netloc and f"{parts.scheme}://{parts.netloc}" != base:
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith(SKIPPED_PREFIXES) or parts.path.endswith(SKIPPED_SUFFIXES):
            continue
        if path not in paths:
            paths.append(path)
    return paths


def test_every_page_of_every_menu_has_no_wcag_violation(
    world: World, arranged: Arranged, live_server: LiveServer, chromium: Browser
) -> None:
    base = base_url(live_server)
    findings = Findings()
    visited: dict[str, list[str]] = {}
    # The account pages are the same for every role of a kind of organisation: checked once.
    account_pages_seen: set[tuple[str, str, str]] = set()
    for role, user_of in ROLES.items():
        user = user_of(world)
        context, page = signed_in(chromium, base, user)
        try:
            home = urlsplit(page.url).path
            for language in LANGUAGES:
                if language != "fr":
                    switch_language(page, language)
                label = f"{role} {language}"
                findings.check(page, label)  # the home page
                page.click("[data-testid=account-menu] summary")  # opened, it is checked too
                findings.check(page, label, within="[data-testid=account-menu]")
                paths = [path for path in menu_paths(page, base) if path != home]
                visited[label] = paths
                for path in paths:
                    if path.startswith("/account/"):
                        seen = (path, language, user.organisation.kind)
                        if seen in account_pages_seen:
                            continue
                        account_pages_seen.add(seen)
                    page.goto(f"{base}{path}")
                    findings.check(page, label)
        finally:
            context.close()

    assert all(visited.values()), f"a role with no menu page: {visited}"
    assert (findings.violations, findings.broken) == ({}, {}), findings.report()


def submit_invalid(page: Page, form: str, **values: str) -> None:
    """Send `form` with `values` typed in (the browser's own checks off, so that the server
    answers with its error messages)."""
    page.eval_on_selector_all("form", "forms => forms.forEach(f => { f.noValidate = true; })")
    scope = page.locator(form)
    for selector, value in values.items():
        scope.locator(selector).fill(value)
    with page.expect_navigation():
        scope.locator("button[type=submit]").last.click()


def upload_garbage(page: Page) -> None:
    """Send the page's upload form with a file that is nothing it could read."""
    upload = page.locator("form:has(input[type=file])")
    upload.locator("input[type=file]").set_input_files(
        {"name": "fichier.csv", "mimeType": "text/csv", "buffer": b"\x00\x01 nothing readable"}
    )
    page.eval_on_selector_all("form", "forms => forms.forEach(f => { f.noValidate = true; })")
    with page.expect_navigation():
        upload.locator("button[type=submit]").last.click()


def test_form_error_states_have_no_wcag_violation(
    world: World, arranged: Arranged, live_server: LiveServer, chromium: Browser
) -> None:
    base = base_url(live_server)
    findings = Findings()
    for language in LANGUAGES:
        # Sign-in with a wrong password.
        context = chromium.new_context(locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/login/")
        if language != "fr":
            switch_language(page, language)
        submit_invalid(page, "form:has(#id_password)", **{"#id_username": "x", "#id_password": "y"})
        findings.check(page, f"anonymous {language} login", errors=True)
        page.goto(f"{base}/no-such-page/")
        findings.check(page, f"anonymous {language} 404", status=404)
        context.close()

        context, page = signed_in(chromium, base, world.alice.credit_manager)
        if language != "fr":
            switch_language(page, language)
        label = f"credit_manager {language}"
        contract, buyer = arranged.contract_id, arranged.buyer_id
        # The error page of a signed-in user (menu, ways back).
        page.goto(f"{base}/no-such-page/")
        findings.check(page, f"{label} 404", status=404)
        # The buyer search with an invalid SIREN.
        page.goto(f"{base}/contracts/{contract}/buyers/?q=123456789")
        findings.check(page, f"{label} buyer search")
        # The top-up request: text where amounts go (the live limits panel answers too).
        page.goto(f"{base}/contracts/{contract}/buyers/{buyer}/request/")
        submit_invalid(page, "[data-testid=request-form]", **{"#id_exposure": "abc"})
        findings.check(page, f"{label} request form", errors=True)
        # A claim without any invoice.
        page.goto(f"{base}/claims/new/?buyer={arranged.claim_buyer_id}")
        submit_invalid(page, "form[method=post]:has(button[data-testid=claim-declare-submit])")
        findings.check(page, f"{label} claim form", errors=True)
        # A study list that is not a spreadsheet.
        page.goto(f"{base}/studies/{arranged.study_id}/")
        upload_garbage(page)
        findings.check(page, f"{label} study upload", errors=True)
        context.close()

        # The arbiter's decision with text where the amount goes.
        context, page = signed_in(chromium, base, world.staff[Role.ARBITER])
        if language != "fr":
            switch_language(page, language)
        page.goto(f"{base}/backoffice/requests/{arranged.request_id}/")
        amount = page.locator("[data-testid=decision-form] input[type=text]").first
        amount.fill("abc")
        submit_invalid(page, "[data-testid=decision-form]")
        findings.check(page, f"arbiter {language} decision form", errors=True)
        context.close()

        # A payment with text for its amount; a bank statement that is not one.
        context, page = signed_in(chromium, base, world.staff[Role.FINANCE_OPS])
        if language != "fr":
            switch_language(page, language)
        page.goto(f"{base}/invoices/{arranged.invoice_id}/")
        submit_invalid(page, "[data-testid=payment-form]", **{"input[name=amount]": "abc"})
        findings.check(page, f"finance_ops {language} payment form", errors=True)
        page.goto(f"{base}/invoices/payments/import/")
        upload_garbage(page)
        findings.check(page, f"finance_ops {language} bank statement", errors=True)
        context.close()

    assert findings.pages == 20
    assert (findings.violations, findings.broken) == ({}, {}), findings.report()


SCREENSHOTS = os.environ.get("UNLOCKPLUS_SCREENSHOTS")


@pytest.fixture
def demo_users(db: None) -> dict[str, User]:
    """The demo world as `make run` seeds it (with its invoices): one user per role, the first
    the demo lists."""
    from billing.demo import build_demo_billing
    from portal.demo import build_demo_world

    users: dict[str, User] = {}
    for login in build_demo_world():
        if str(login.role) not in users:
            users[str(login.role)] = User.objects.get(email=login.email)
    build_demo_billing()
    connection.close()
    return users


@pytest.mark.skipif(not SCREENSHOTS, reason="UNLOCKPLUS_SCREENSHOTS names no folder")
def test_home_page_screenshots(
    demo_users: dict[str, User], live_server: LiveServer, chromium: Browser
) -> None:
    """`make screenshots`: each role's home page on the demo world, at 1366×900, in French and
    in English."""
    from portal.demo import DEMO_PASSWORD

    folder = Path(str(SCREENSHOTS))
    folder.mkdir(parents=True, exist_ok=True)
    base = base_url(live_server)
    written = []
    for role, user in demo_users.items():
        context = chromium.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            sign_in(page, base, user.username, DEMO_PASSWORD)
            for language in LANGUAGES:
                if language != "fr":
                    switch_language(page, language)
                page.wait_for_load_state("networkidle")
                target = folder / f"{role}-home-{language}.png"
                page.screenshot(path=str(target))
                written.append(target)
        finally:
            context.close()
    assert len(written) == 2 * len(demo_users)
    assert all(path.stat().st_size > 10_000 for path in written)
    print("\n".join(str(path) for path in written))

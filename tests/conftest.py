"""Fixtures only: what they build comes from `tests.support`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from tests.support.billing import celery_eager
from tests.support.browser import launched_chromium
from tests.support.world import World, build_world

if TYPE_CHECKING:  # Playwright itself is imported when a browser is launched.
    from playwright.sync_api import Browser, Page


@pytest.fixture
def world(db: None) -> World:
    """alice and bob with a contract each, a broker mandated for alice, the insurer's staff,
    and charlie, a policyholder that owns nothing."""
    return build_world()


@pytest.fixture(autouse=True)
def _joins_allowed() -> None:
    """Celery marks "inside a task" with a process-wide flag that eager `apply_async` sets and
    restores; two threads doing so at once (a background kick beside the test's own call) can
    leave it set, and a later test's `.get()` then refuses to run. Each test starts clear."""
    from celery._state import _set_task_join_will_block  # type: ignore[attr-defined]  # private, untyped

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _plain_http(settings: Settings) -> None:
    """The test client and the live server speak plain http: no redirect to https."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # Real hashing makes every user cost ~0.3 s; the tests are about who sees what.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks run in-process, so PDFs and e-mails queued after commit happen in the test."""
    with celery_eager():
        yield


@pytest.fixture
def chromium(live_server: LiveServer) -> Iterator[Browser]:
    """Headless Chromium, against the live test server; the test opens its own contexts."""
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Page]:
    """A fresh French page in headless Chromium."""
    context = chromium.new_context(locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()

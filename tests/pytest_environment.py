"""Loaded with `-p` before Django's settings: the test servers speak plain http, and the
settings (production's, DEBUG off) get an explicit test-only key and hosts."""

import os

os.environ.setdefault("UNLOCKPLUS_SECURE", "false")
os.environ.setdefault(
    "DJANGO_SECRET_KEY",
    "tests-only-7Qm2vX9pL4sK8wR1zT6yB3nC5hJ0dF-not-for-production",  # noqa: S105
)
# The test client's "testserver" is added by pytest-django; the live servers use these.
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
# After-commit kicks are sent in the committing thread, where a test can observe them; the
# frozen-broker test turns the background publisher on (tests/platform/test_frozen_broker.py).
os.environ.setdefault("JOB_KICK_IN_BACKGROUND", "false")

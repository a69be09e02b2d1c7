"""Django's deployment checks pass with the production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_DEBUG": "false",
        "UNLOCKPLUS_SECURE": "true",
        "DJANGO_SECRET_KEY": "a8f!kQ2#pL9zR4$wX7mN1vB6cT3yH0jD5gS8eU2iO4-test-only-key",
        "DJANGO_ALLOWED_HOSTS": "unlockplus.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

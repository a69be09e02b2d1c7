"""Production settings refuse to start on a public secret key or without allowed hosts, and the
run command keeps one generated key for this machine."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
A_REAL_KEY = "q9V!tL2#xR7mK4$wZ1nB8cY5hJ0dF3gS6eU9iO2-settings-test-key"
OLD_DEFAULT_KEY = "dev-only-insecure-key-change-me-in-production-0123456789abcdefghijkl"


def load_settings(**variables: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with only these Django variables set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DJANGO_DEBUG"}
    }
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", "import unlockplus.settings as s; print(s.SECRET_KEY)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off() -> None:
    result = load_settings(DJANGO_DEBUG="false", DJANGO_ALLOWED_HOSTS="unlockplus.example")
    assert_refused(result, "DJANGO_SECRET_KEY")


def test_it_refuses_the_published_development_key_when_debug_is_off() -> None:
    result = load_settings(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=OLD_DEFAULT_KEY,
        DJANGO_ALLOWED_HOSTS="unlockplus.example",
    )
    assert_refused(result, "DJANGO_SECRET_KEY")


def test_it_refuses_to_start_without_allowed_hosts_when_debug_is_off() -> None:
    result = load_settings(DJANGO_DEBUG="false", DJANGO_SECRET_KEY=A_REAL_KEY)
    assert_refused(result, "DJANGO_ALLOWED_HOSTS")


def test_it_starts_with_a_real_key_and_allowed_hosts() -> None:
    result = load_settings(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=A_REAL_KEY,
        DJANGO_ALLOWED_HOSTS="unlockplus.example",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == A_REAL_KEY


def test_debug_still_starts_with_nothing_set() -> None:
    result = load_settings(DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def dev_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unlockplus_dev_script", ROOT / "scripts/dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_run_command_generates_a_private_key_once_and_reuses_it(
    dev_script: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "var" / "secret_key"
    key = dev_script.local_secret_key(path)
    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dev_script.local_secret_key(path) == key
    assert path.read_text().strip() == key


def test_a_key_file_left_readable_by_others_is_made_private_again(
    dev_script: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "secret_key"
    path.write_text("an-existing-key-kept-across-runs\n")
    path.chmod(0o644)
    assert dev_script.local_secret_key(path) == "an-existing-key-kept-across-runs"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

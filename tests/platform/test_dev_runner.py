"""Issue 13, findings 5 and 7, on real processes: `make run` restarts a worker or beat that dies
instead of stopping the whole platform, and the embedded Valkey keeps its queue across a
restart (append-only file under the data folder)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import dev  # noqa: E402  (scripts/dev.py runs before the virtual environment exists)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def supervisor() -> Iterator[dev.Supervisor]:
    running = dev.Supervisor(
        {"worker": SLEEPER, "beat": SLEEPER}, cwd=ROOT, give_up_after=5, max_delay=1.0
    )
    running.start()
    try:
        yield running
    finally:
        running.stop(timeout=5)


def supervise_until(supervisor: dev.Supervisor, done: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert supervisor.check() is None
        if callable(done) and done():
            return
        time.sleep(0.1)
    raise AssertionError("the supervisor did not get there in time")


def test_a_killed_worker_is_restarted_and_the_rest_keeps_running(
    supervisor: dev.Supervisor,
) -> None:
    killed = supervisor.processes["worker"].pid
    beat = supervisor.processes["beat"].pid
    os.kill(killed, signal.SIGKILL)

    supervise_until(supervisor, lambda: supervisor.restarts["worker"] == 1)

    assert supervisor.processes["worker"].pid != killed
    assert supervisor.processes["worker"].poll() is None
    assert supervisor.processes["beat"].pid == beat and supervisor.restarts["beat"] == 0


def test_a_process_in_a_crash_loop_stops_the_platform_instead_of_spinning() -> None:
    crashing = dev.Supervisor(
        {"worker": [sys.executable, "-c", "raise SystemExit(3)"]},
        cwd=ROOT,
        give_up_after=3,
        max_delay=0.0,
    )
    crashing.start()
    try:
        deadline = time.monotonic() + 20
        gave_up = None
        while gave_up is None and time.monotonic() < deadline:
            gave_up = crashing.check()
            time.sleep(0.05)
        assert gave_up == "worker"
        assert crashing.restarts["worker"] == 2
    finally:
        crashing.stop(timeout=5)


def test_the_make_run_platform_has_a_worker_for_every_queue() -> None:
    from unlockplus.celery import WORKER_QUEUES

    commands = dev.platform_commands("8000")
    queues = {
        command[command.index("-Q") + 1] for command in commands.values() if "worker" in command
    }
    assert queues == set(WORKER_QUEUES)
    assert {"web", "beat"} <= set(commands)


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_the_embedded_valkey_keeps_its_queue_across_a_restart(tmp_path: Path, stop: str) -> None:
    folder = tmp_path / "valkey"
    with dev.embedded_valkey(folder=folder) as url:
        redis.Redis.from_url(url).lpush("email", b"deliveries_dispatch #1")
        if stop == "sigkill":
            time.sleep(1.5)  # appendfsync everysec: what was written a second ago is on disk
            pid = int(redis.Redis.from_url(url).info("server")["process_id"])
            os.kill(pid, signal.SIGKILL)
    with dev.embedded_valkey(folder=folder) as url:
        assert redis.Redis.from_url(url).lrange("email", 0, -1) == [b"deliveries_dispatch #1"]

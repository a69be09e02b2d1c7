"""The database role the benchmarks run as, and the superuser connection they may need.

Production connects as an ordinary role (NOSUPERUSER NOBYPASSRLS, owner of its database), so
PostgreSQL's row-level security (`portal/rls.py`) is in force there. The figures must come from
the same: PostgreSQL exempts superusers and BYPASSRLS roles from every policy, so figures
measured as one would leave the policies' cost out, and a query that an unscoped code path
makes would look fast instead of returning nothing. `python -m benchmarks` therefore refuses
to run as such a role unless `--allow-superuser` (or `BENCH_ALLOW_SUPERUSER=1`) says so.

What only a superuser may do (create and drop the monitoring benchmark's database, install its
extensions) goes through a connection of its own, to `DATABASE_ADMIN_URL`, used for nothing
else; `make bench` sets it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection

from portal import rls

ADMIN_URL_VARIABLE = "DATABASE_ADMIN_URL"
ALLOW_SUPERUSER_VARIABLE = "BENCH_ALLOW_SUPERUSER"


@dataclass(frozen=True)
class Role:
    name: str
    database: str
    superuser: bool
    bypass_rls: bool
    forced_tables: int  # tables whose policy applies to their owner too

    @property
    def under_rls(self) -> bool:
        return not (self.superuser or self.bypass_rls) and self.forced_tables > 0

    def describe(self) -> str:
        attributes = " ".join(
            [
                "SUPERUSER" if self.superuser else "NOSUPERUSER",
                "BYPASSRLS" if self.bypass_rls else "NOBYPASSRLS",
            ]
        )
        where = f"role {self.name} ({attributes}) on database {self.database}"
        if self.under_rls:
            return f"{where}: row-level security in force on {self.forced_tables} tables"
        if self.forced_tables == 0:
            return f"{where}: no table is under row-level security (migrated?)"
        return f"{where}: EXEMPT from row-level security, figures do not measure production"


def current_role() -> Role:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT current_user, current_database(), rolsuper, rolbypassrls,
                   (SELECT count(*) FROM pg_class
                     WHERE relrowsecurity AND relforcerowsecurity
                       AND relnamespace = 'public'::regnamespace)
              FROM pg_roles WHERE rolname = current_user
            """
        )
        name, database, superuser, bypass_rls, forced = cursor.fetchone()
    return Role(name, database, superuser, bypass_rls, forced)


def superuser_allowed(flag: bool) -> bool:
    return flag or os.environ.get(ALLOW_SUPERUSER_VARIABLE, "").lower() in {"1", "true", "yes"}


def require_all_rows(cursor: Any) -> None:
    """Before raw SQL that writes tenant rows of several policyholders: run a statement through
    Django's cursor, so that `portal.rls` sets the active scope's value on this connection, and
    check that it is 'all' (the caller is inside `scopes_disabled()`). Otherwise every row
    would fail the policy's WITH CHECK."""
    cursor.execute("SELECT current_setting(%s, true)", [rls.SETTING])
    (value,) = cursor.fetchone()
    if getattr(connection, rls.ENFORCED_ATTR, False) and value != "all":
        raise RuntimeError(f"{rls.SETTING} is {value!r} for a bulk write: use scopes_disabled()")


@contextmanager
def copy_into_tenant_table(cursor: Any, table: str, columns: str) -> Iterator[Any]:
    """`COPY table (columns) FROM STDIN` as an ordinary role. PostgreSQL refuses COPY FROM into
    a table under row-level security ("use INSERT statements instead"), so the rows are copied
    into a temporary table of the same shape, then inserted with one INSERT … SELECT, which
    the policy checks row by row (the caller is inside `scopes_disabled()`). Yields psycopg's
    `Copy`. A superuser takes the same path, so that both pay for the same statements."""
    require_all_rows(cursor)
    staging = f"bench_staging_{table}"
    cursor.execute(f"CREATE TEMPORARY TABLE {staging} (LIKE {table} INCLUDING DEFAULTS)")
    try:
        with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            yield copy
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}"  # noqa: S608
        )
    finally:
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")


@contextmanager
def references_checked_once(table: str) -> Iterator[None]:
    """Delete many rows of `table` with the foreign keys that reference it checked once, set-
    based, instead of once per deleted row. Inside a transaction: the referencing constraints
    are dropped, the caller deletes, and they are added back, which validates each with one
    scan of its table. A buyer's deletion otherwise looks for its guarantees through the GiST
    exclusion index (contract, buyer, period), about 0.1 s a buyer once the billing book's
    million guarantees are there: the 100 000 bench buyers of a second `make bench` took
    hours. The benchmarks' role owns the tables (it migrated them), so it may."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            "  FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass",
            [table],
        )
        constraints = cursor.fetchall()
        for referencing, name, _ in constraints:
            cursor.execute(f'ALTER TABLE {referencing} DROP CONSTRAINT "{name}"')
        yield
        for referencing, name, definition in constraints:
            cursor.execute(f'ALTER TABLE {referencing} ADD CONSTRAINT "{name}" {definition}')


def _admin_config(database: str) -> dict[str, Any]:
    import environ

    url = os.environ.get(ADMIN_URL_VARIABLE)
    if not url:
        raise RuntimeError(
            f"{ADMIN_URL_VARIABLE} is not set: a superuser URL is needed to create the "
            "benchmark's own database (the benchmarks' role may not create databases)"
        )
    config = environ.Env.db_url_config(url)
    return {
        "host": config["HOST"] or "127.0.0.1",
        "port": config["PORT"] or 5432,
        "user": config["USER"] or "postgres",
        "password": config["PASSWORD"] or None,
        "dbname": database,
        "autocommit": True,
    }


def admin_url(database: str) -> str:
    """`DATABASE_ADMIN_URL` naming `database`: for a server process that must connect as the
    superuser (the RLS-sensitive figures are measured again that way, beside the role's)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    _admin_config(database)  # says what is missing
    parts = urlsplit(os.environ[ADMIN_URL_VARIABLE])
    return urlunsplit(parts._replace(path=f"/{quote(database, safe='')}"))


@contextmanager
def as_superuser() -> Iterator[None]:
    """The default connection as the superuser of `DATABASE_ADMIN_URL`, on the same database,
    meanwhile. PostgreSQL exempts it from row-level security (and `portal.rls` then sends no
    setting): a figure measured again inside this block, beside the ordinary role's, puts a
    number on what the policies cost."""
    settings = connection.settings_dict
    config = _admin_config(settings["NAME"])
    keys = ("USER", "PASSWORD", "HOST", "PORT")
    saved = {key: settings[key] for key in keys}
    connection.close()
    settings.update(
        USER=config["user"],
        PASSWORD=config["password"] or "",
        HOST=config["host"],
        PORT=config["port"],
    )
    try:
        if current_role().under_rls:
            raise RuntimeError(f"{ADMIN_URL_VARIABLE} names a role under row-level security")
        yield
    finally:
        connection.close()
        settings.update(saved)


def rls_cost(*, rls: float, superuser: float, higher_is_better: bool) -> float:
    """What row-level security costs, in % of the superuser's figure (a latency's increase, or
    a throughput's decrease)."""
    if not superuser:
        return 0.0
    change = (superuser - rls) if higher_is_better else (rls - superuser)
    return 100 * change / superuser


@contextmanager
def admin_connection(database: str = "postgres") -> Iterator[Any]:
    """A superuser connection (autocommit) to `database`, for what the role may not do."""
    import psycopg

    with psycopg.connect(**_admin_config(database)) as admin:
        yield admin


def _extensions() -> list[str]:
    """The extensions the migrations create (`CreateExtension` operations)."""
    from django.contrib.postgres.operations import CreateExtension
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(
        {
            operation.name
            for migration in loader.disk_migrations.values()
            for operation in migration.operations
            if isinstance(operation, CreateExtension)
        }
    )


def _drop(name: str) -> None:
    from psycopg import sql

    with admin_connection() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def own_database(name: str) -> Iterator[None]:
    """A fresh database for one benchmark, dropped afterwards: created by the superuser and
    owned by the benchmarks' role, its extensions installed by the superuser, migrated by the
    role itself (so that it owns every table, as in production), with the default connection
    pointed at it meanwhile."""
    from django.core.management import call_command
    from psycopg import sql

    role = current_role().name
    _drop(name)  # left behind by a killed run
    with admin_connection() as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    # connection.settings_dict is settings.DATABASES["default"] itself.
    settings = connection.settings_dict
    original = settings["NAME"]
    try:
        with admin_connection(name) as admin:
            for extension in _extensions():
                admin.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
                )
        connection.close()
        settings["NAME"] = name
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        connection.close()
        settings["NAME"] = original
        _drop(name)

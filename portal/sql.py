"""Hot-path statements: hand-written SQL that PostgreSQL plans once per connection.

An API client calls a few endpoints for every order it takes (the coverage check). There the
ORM costs more to build a query than PostgreSQL takes to run it, and PostgreSQL takes longer to
plan the statement than to execute it. `fetch_one` runs a hand-written statement on the
driver's own server-binding cursor, prepared on each connection (Django's backend binds on the
client and never prepares, for the sake of transaction-mode poolers, which the platform does not
use), under the same row-level-security setting as Django's cursors.

Django checks a reused connection with a `SELECT 1` before the first query of each request
(`CONN_HEALTH_CHECKS`). A read here checks it by running instead: a connection error on the
first statement of a request, outside a transaction, closes the connection and runs the read
again on a new one, which is what the health check would have done, one round trip cheaper.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from django.db import OperationalError, connection

from portal import rls

# Django leaves psycopg's threshold unset, which disables preparing altogether; `prepare=True`
# below prepares on first use (psycopg keeps the `prepared_max` most recent per connection).
PREPARE_THRESHOLD = 0


def fetch_one(sql: str, params: dict[str, Any] | list[Any], *, tenant_rows: bool) -> Any:
    """The first row of `sql` (None when there is none).

    `tenant_rows`: whether the connection's setting must follow the active scope first (as
    Django's execute wrapper does), for a statement that reads tables under the tenant policy.
    False leaves the setting as it is: for a statement on untenanted tables only, which saves a
    round trip when the scope differs between two statements of a request (before and after
    authentication), or for one whose caller checks afterwards under which setting it ran
    (`rls.SETTING_ATTR`) and does not use what it read under another.
    """
    database: Any = connection  # the stubs do not declare the health-check attributes
    retry = (
        database.connection is not None
        and database.health_check_enabled
        and not database.health_check_done
        and database.get_autocommit()
    )
    try:
        row = _fetch_one(sql, params, tenant_rows=tenant_rows)
    except OperationalError:
        if not retry or connection.is_usable():
            raise
        connection.close()
        row = _fetch_one(sql, params, tenant_rows=tenant_rows)
    database.health_check_done = True
    return row


def _fetch_one(sql: str, params: dict[str, Any] | list[Any], *, tenant_rows: bool) -> Any:
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Only server-binding cursors prepare: Django's own (client-binding) cursors never do.
        raw.prepare_threshold = PREPARE_THRESHOLD
    if tenant_rows:
        rls.follow_scope(connection)
    began = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if connection.queries_logged:
        # Seen by assertNumQueries and the debug toolbar like any other query.
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - began:.3f}"})
    return row

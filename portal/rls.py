"""Row-level security in PostgreSQL: defence in depth behind the application's scoping.

Every tenant-owned table has a policy that shows a row only when its `policyholder_id` is in the
session setting `unlockplus.policyholders`: `all` (insurer staff, tasks, commands that disabled
the scope), a comma-separated list of ids, or empty/unset, which shows nothing (fail closed).
`FORCE ROW LEVEL SECURITY` applies it to the table owner too; superusers and BYPASSRLS roles are
exempt, as PostgreSQL wants, so production connects as an ordinary role (see README).

The setting follows the django-scopes scope of the current context: a database execute wrapper
compares it with what the connection last set and calls `set_config` only when it changed, so a
request costs one extra statement at most.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import migrations
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django_scopes.state import get_scope
from psycopg.pq import TransactionStatus

SETTING = "unlockplus.policyholders"
# Kept on each database connection (Django's wrapper declares no such attributes, hence
# getattr/setattr): whether row security applies to its role, and the setting it last committed.
ENFORCED_ATTR = "rls_enforced"
SETTING_ATTR = "rls_setting"

# The scope, read by a policy once per statement. A policy that called a function of the row
# (`unlockplus_row_visible(policyholder_id)`, until portal 0009) read the setting, and for a
# list split and cast it, for every row it looked at, and kept PostgreSQL from scanning in
# parallel: 1 000 000 guarantees took 0.42 s to count as insurer staff, 0.95 s as a tenant,
# against 0.10 s for the superuser. Wrapped in a scalar sub-select, each function below is an
# InitPlan, evaluated once when the statement runs (so a prepared statement still sees the
# setting of each execution), and the per-row test is a comparison with a constant array.
FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION unlockplus_scope_is_all() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('{SETTING}', true), '') = 'all'
$$;
CREATE OR REPLACE FUNCTION unlockplus_scope_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN coalesce(current_setting('{SETTING}', true), '') IN ('', 'all')
                THEN '{{}}'::uuid[]
                ELSE string_to_array(current_setting('{SETTING}', true), ',')::uuid[]
           END
$$;
"""
# `all` (insurer staff, tasks, commands that disabled the scope): every row; a list: its
# policyholders' rows; empty or unset: none (fail closed).
POLICY_SQL = (
    "(SELECT unlockplus_scope_is_all())"
    " OR policyholder_id = ANY ((SELECT unlockplus_scope_ids())::uuid[])"
)


def enable_row_level_security(*tables: str) -> list[migrations.RunSQL]:
    """Migration operations that put `tables` under the tenant policy."""
    operations = [migrations.RunSQL(FUNCTION_SQL, migrations.RunSQL.noop)]
    for table in tables:
        operations.append(
            migrations.RunSQL(
                f"""
                ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                CREATE POLICY tenant_isolation ON {table}
                    USING ({POLICY_SQL}) WITH CHECK ({POLICY_SQL});
                """,
                f"""
                DROP POLICY IF EXISTS tenant_isolation ON {table};
                ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;
                ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;
                """,
            )
        )
    return operations


def scope_setting() -> str:
    """The value of `unlockplus.policyholders` for the scope active in this context."""
    current = get_scope()
    if not current.get("_enabled", True):
        return "all"
    if "policyholder" not in current:
        return ""
    ids = current["policyholder"]
    if ids is None:
        return "all"
    return ",".join(str(value) for value in ids)


def follow_scope(connection: BaseDatabaseWrapper) -> None:
    """Bring the connection's setting to the active scope before a statement (a no-op when it
    is already there, or when the role is exempt). Django's cursors call it through the execute
    wrapper below; a statement run on the driver's own cursor (`portal.sql`) calls it first."""
    if getattr(connection, ENFORCED_ATTR, False):
        value = scope_setting()
        aborted = connection.connection.info.transaction_status == TransactionStatus.INERROR
        # In an aborted transaction only the rollback (to a savepoint) can run: let it through.
        if not aborted and getattr(connection, SETTING_ATTR, None) != value:
            # Through Django's error wrapper, as the statement itself would be: a dropped or
            # terminated connection raises django.db.OperationalError (which callers tell apart
            # from other failures, the billing run for one) and marks the connection unusable.
            with connection.wrap_database_errors, connection.connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, %s, false)", [SETTING, value])
            # Remembered, also inside a transaction: a rollback (to a savepoint or of the whole
            # transaction) undoes the setting, and forgets it here too (`_forget_on_rollback`).
            setattr(connection, SETTING_ATTR, value)


def _follow_scope(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    follow_scope(context["connection"])
    return execute(sql, params, many, context)


def _forget_on_rollback(connection: BaseDatabaseWrapper) -> None:
    """A rollback undoes a `set_config` made in the transaction (or after the savepoint): the
    setting is sent again before the next statement. Django's wrapper has no rollback hook, so
    this wraps its two rollback primitives on this connection object."""
    wrapper: Any = connection  # the stubs do not declare Django's private primitives
    rollback = wrapper._rollback
    savepoint_rollback = wrapper._savepoint_rollback

    def _rollback() -> None:
        setattr(connection, SETTING_ATTR, None)
        rollback()

    def _savepoint_rollback(sid: str) -> None:
        setattr(connection, SETTING_ATTR, None)
        savepoint_rollback(sid)

    wrapper._rollback = _rollback
    wrapper._savepoint_rollback = _savepoint_rollback


def _install(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    # PostgreSQL exempts superusers from row security: no need to pay for the setting there.
    setattr(connection, ENFORCED_ATTR, not (row and row[0]))
    setattr(connection, SETTING_ATTR, None)
    if _follow_scope not in connection.execute_wrappers:
        connection.execute_wrappers.append(_follow_scope)
        _forget_on_rollback(connection)


def install() -> None:
    connection_created.connect(_install, dispatch_uid="unlockplus-rls")

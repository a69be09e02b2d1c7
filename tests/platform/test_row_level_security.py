"""Defence in depth: PostgreSQL itself hides other tenants' rows from an ordinary role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from django.apps import apps
from django.db import connection, transaction
from django_scopes import scopes_disabled

from portal import sql
from portal.models import TenantOwned
from portal.rls import ENFORCED_ATTR, SETTING
from portal.tenancy import tenant_scope
from tests.support.clients import client_for
from tests.support.rls import ordinary_role
from tests.support.world import World


@pytest.fixture
def as_ordinary_role(world: World) -> Iterator[None]:
    """The rest of the test runs as the production database role (see tests.support.rls)."""
    with ordinary_role():
        yield


def contract_numbers() -> set[str]:
    # Raw SQL, past the application's scoping: only the database policy filters these rows.
    with connection.cursor() as cursor:
        cursor.execute("SELECT number FROM underwriting_contract")
        return {row[0] for row in cursor.fetchall()}


def test_the_suite_runs_as_a_role_the_policies_apply_to(db: None) -> None:
    """`make test` connects as an ordinary role (scripts/dev.py), so every test runs under the
    policies: as a superuser the whole suite would pass with row-level security switched off."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        role, superuser, bypasses = cursor.fetchone()
    assert not (superuser or bypasses), (
        f"the tests connect as {role}, which PostgreSQL exempts from row-level security: "
        "run them with `make test`, or with DATABASE_URL naming a NOSUPERUSER NOBYPASSRLS role"
    )
    assert getattr(connection, ENFORCED_ATTR), "the scope no longer reaches the database setting"


def test_every_tenant_owned_table_is_under_a_forced_policy(db: None) -> None:
    tables = sorted(
        model._meta.db_table for model in apps.get_models() if issubclass(model, TenantOwned)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            JOIN pg_policies p ON p.tablename = c.relname AND p.policyname = 'tenant_isolation'
            WHERE c.relrowsecurity AND c.relforcerowsecurity AND c.relname = ANY(%s)
            """,
            [tables],
        )
        protected = sorted(row[0] for row in cursor.fetchall())
    assert protected == tables, "add portal.rls.enable_row_level_security to a migration"


def test_the_database_shows_a_tenant_only_its_own_rows(
    world: World, as_ordinary_role: None
) -> None:
    with tenant_scope([world.alice.organisation.pk]):
        assert contract_numbers() == {world.alice.contract.number}
    with tenant_scope([world.alice.organisation.pk, world.bob.organisation.pk]):
        assert contract_numbers() == {world.alice.contract.number, world.bob.contract.number}


def test_the_database_shows_nothing_without_a_scope_and_everything_to_the_insurer(
    world: World, as_ordinary_role: None
) -> None:
    assert contract_numbers() == set()
    everyone = {world.alice.contract.number, world.bob.contract.number}
    with tenant_scope(None):
        assert contract_numbers() == everyone
    with scopes_disabled():
        assert contract_numbers() == everyone


def test_a_request_sets_the_database_scope_of_the_signed_in_user(
    world: World, as_ordinary_role: None
) -> None:
    response = client_for(world.bob.credit_manager).get("/api/v1/contracts/")
    assert [row["number"] for row in response.json()["results"]] == [world.bob.contract.number]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('unlockplus.policyholders', true)")
        # Outside the request the scope is gone again, and so is the database's view.
        assert cursor.fetchone()[0] == ""


def test_the_database_refuses_a_row_written_for_another_tenant(
    world: World, as_ordinary_role: None
) -> None:
    from django.db import DatabaseError, transaction

    from tests.support.factories import ContractFactory

    # Built by the factory (which arranges under the bypass), saved in alice's scope.
    theirs = ContractFactory.build(policyholder=world.bob.organisation, status="draft")
    own = ContractFactory.build(
        policyholder=world.alice.organisation, status="draft", number="UP-OWN-1"
    )
    with tenant_scope([world.alice.organisation.pk]):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            theirs.save()
        own.save()
        assert "UP-OWN-1" in contract_numbers()


def test_a_lost_connection_is_djangos_error_when_the_scope_setting_fails(
    transactional_db: None,
) -> None:
    """The setting is written through Django's error wrapper: a terminated session raises
    django.db.OperationalError, which callers tell apart from other failures (a billing run
    stops and is resumed, instead of carrying on without its lock on a new session)."""
    import psycopg
    from django.db import OperationalError

    connection.ensure_connection()
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    try:
        # A scope the connection has not set yet: the wrapper's set_config meets the loss.
        with tenant_scope([uuid4()]), pytest.raises(OperationalError):
            contract_numbers()
    finally:
        connection.close()


class RolledBack(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_scope_set_in_a_rolled_back_transaction_is_sent_again_after_it(
    world: World, as_ordinary_role: None
) -> None:
    """The setting is sent once per scope change, also inside a transaction (issue 15: a billing
    group paid one more round trip per statement). A rollback undoes it in PostgreSQL, so it must
    be sent again: otherwise bob's setting, restored by the rollback, would show bob's rows to
    alice's scope."""
    with tenant_scope([world.bob.organisation.pk]):
        assert contract_numbers() == {world.bob.contract.number}  # committed: autocommit
    with tenant_scope([world.alice.organisation.pk]):
        with pytest.raises(RolledBack), transaction.atomic():
            assert contract_numbers() == {world.alice.contract.number}
            raise RolledBack
        # The rollback brought bob's setting back in PostgreSQL; alice's scope must not see it.
        assert contract_numbers() == {world.alice.contract.number}


def test_inside_a_transaction_the_setting_is_sent_once_per_scope(
    world: World, as_ordinary_role: None
) -> None:
    sent: list[str] = []
    real_cursor = connection.connection.cursor

    class Spy:
        """psycopg's cursor, noting each scope setting sent through it."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.cursor = real_cursor(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cursor, name)

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.cursor.close()

        def execute(self, sql: str, params: Any = None, **kwargs: Any) -> Any:
            if "set_config" in sql:
                sent.append(params[1])
            return self.cursor.execute(sql, params, **kwargs)

    with transaction.atomic(), tenant_scope([world.alice.organisation.pk]):
        connection.connection.cursor = Spy
        try:
            for _ in range(5):
                contract_numbers()
        finally:
            connection.connection.cursor = real_cursor
    assert sent == [str(world.alice.organisation.pk)]


def contract_numbers_prepared() -> str | None:
    """The same read on the driver's own cursor, as a prepared statement (`portal.sql`)."""
    row = sql.fetch_one(
        "SELECT string_agg(number, ',' ORDER BY number) FROM underwriting_contract",
        [],
        tenant_rows=True,
    )
    return row[0] if row else None


def test_a_prepared_statement_follows_the_scope_like_djangos_cursors(
    world: World, as_ordinary_role: None
) -> None:
    """The plan is kept per connection, the setting is read at each execution: a scope change
    between two runs of the same prepared statement shows the new scope's rows only."""
    alice, bob = world.alice, world.bob
    for _ in range(3):
        with tenant_scope([alice.organisation.pk]):
            assert contract_numbers_prepared() == alice.contract.number
        with tenant_scope([bob.organisation.pk]):
            assert contract_numbers_prepared() == bob.contract.number
    assert contract_numbers_prepared() is None  # no scope: nothing
    # An untenanted read (the API token's) leaves the setting where the last read left it.
    with tenant_scope([bob.organisation.pk]):
        contract_numbers_prepared()
    setting = sql.fetch_one("SELECT current_setting(%s, true)", [SETTING], tenant_rows=False)
    assert setting == (str(bob.organisation.pk),)


def _terminate_own_backend() -> None:
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])


def test_a_hot_read_on_a_lost_connection_is_run_again_at_the_start_of_a_request(
    transactional_db: None,
) -> None:
    """Django's health check (a `SELECT 1` before a request's first query) is replaced by a
    retry: the first read of a request on a terminated session runs again on a new one; a
    later read in the same request fails as Django's own queries would."""
    from django.db import OperationalError

    connection.ensure_connection()
    _terminate_own_backend()
    database: Any = connection  # the stubs do not declare the health-check attributes
    database.health_check_done = False  # what a request's start does (request_started)
    try:
        assert sql.fetch_one("SELECT 41 + 1", [], tenant_rows=False) == (42,)
        _terminate_own_backend()
        with pytest.raises(OperationalError):
            sql.fetch_one("SELECT 1", [], tenant_rows=False)
    finally:
        connection.close()


def test_every_policy_reads_the_scope_once_per_statement(
    world: World, as_ordinary_role: None
) -> None:
    """The policies test each row against the scope read once, when the statement starts (an
    InitPlan), not through a function of the row that reads and splits the setting per row
    (portal 0009): a scan under the policy costs what it costs the superuser."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, qual, with_check FROM pg_policies"
            " WHERE schemaname = current_schema() AND policyname = 'tenant_isolation'"
        )
        policies = cursor.fetchall()
        assert len(policies) >= 20
        for table, using, check in policies:
            assert "unlockplus_scope_is_all" in using and using == check, table
            assert "policyholder_id" in using and "row_visible" not in using, table
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = 'unlockplus_row_visible'")
        assert cursor.fetchone()[0] == 0
    for scope in (None, [world.alice.organisation.pk]):
        with tenant_scope(scope), connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM underwriting_contract"
            )
            plan = cursor.fetchone()[0][0]["Plan"]
            text = str(plan)
            # Each scope function runs once, in an InitPlan; the row filter compares with its
            # result, calling nothing per row.
            assert text.count("InitPlan") >= 2, plan
            assert "string_to_array" not in text and "current_setting" not in text, plan
    assert contract_numbers() == set()  # no scope: nothing, still
    with tenant_scope([world.alice.organisation.pk]):
        assert contract_numbers() == {world.alice.contract.number}

"""Running a test as the production database role: no superuser, row-level security in force."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from portal.rls import ENFORCED_ATTR, SETTING_ATTR

PROBE_ROLE = "unlockplus_rls_probe"


def exempt_from_row_security() -> bool:
    """Whether the connection's role skips the policies (a superuser or BYPASSRLS)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


@contextmanager
def ordinary_role() -> Iterator[None]:
    """The rest of the block runs as a role without superuser rights (the production shape),
    with the execute wrapper following the scope as it does for such a role.

    The suite connects as such a role already (scripts/dev.py): then there is nothing to do, and
    nothing could be done (an ordinary role may not create another). Run by hand as a superuser,
    the block switches to a probe role."""
    if not exempt_from_row_security():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN CREATE ROLE {PROBE_ROLE} NOSUPERUSER NOBYPASSRLS; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {PROBE_ROLE}")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {PROBE_ROLE}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {PROBE_ROLE}")
        cursor.execute(f"SET ROLE {PROBE_ROLE}")
    # Attributes the application keeps on the connection (Django declares none such).
    setattr(connection, ENFORCED_ATTR, True)
    setattr(connection, SETTING_ATTR, None)
    try:
        yield
    finally:
        setattr(connection, ENFORCED_ATTR, False)
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")

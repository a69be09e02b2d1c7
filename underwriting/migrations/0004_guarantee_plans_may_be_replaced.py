"""A guarantee period that has not started is a plan (DESIGN §4): an insurer change from an
earlier or the same day replaces it. The trigger of 0002 now lets such a row be deleted, and
only such a row; history (a period that started before today, Europe/Paris) stays closed-only.
"""

import importlib

from django.db import migrations

_INITIAL = importlib.import_module("underwriting.migrations.0002_requests_decisions")
_START = "CREATE OR REPLACE FUNCTION underwriting_guarantee_only_close"
_END = "CREATE TRIGGER underwriting_guarantee_only_close"
ONLY_CLOSE = _INITIAL.IMMUTABILITY_SQL[
    _INITIAL.IMMUTABILITY_SQL.index(_START) : _INITIAL.IMMUTABILITY_SQL.index(_END)
]

NEVER_DELETED = """    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'guarantee periods are never deleted'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;"""

ONLY_PLANS_DELETED = """    IF TG_OP = 'DELETE' THEN
        IF lower(OLD.period) < (now() AT TIME ZONE 'Europe/Paris')::date THEN
            RAISE EXCEPTION 'a guarantee period that has started is never deleted'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;"""

assert NEVER_DELETED in ONLY_CLOSE
SQL = ONLY_CLOSE.replace(NEVER_DELETED, ONLY_PLANS_DELETED)


class Migration(migrations.Migration):
    dependencies = [("underwriting", "0003_decision_message_contract_end")]

    operations = [migrations.RunSQL(SQL, ONLY_CLOSE)]

"""A guarantee period that has not started is a plan (DESIGN §4): an insurer change from an
earlier or the same day replaces it. The trigger now lets such a row be deleted, and only such a
row; history (a period that started before today, Europe/Paris) stays closed-only."""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION underwriting_guarantee_only_close() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF lower(OLD.period) < (now() AT TIME ZONE 'Europe/Paris')::date THEN
            RAISE EXCEPTION 'a guarantee period that has started is never deleted'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.amount <> OLD.amount OR NEW.primary_amount <> OLD.primary_amount
       OR NEW.contract_id <> OLD.contract_id OR NEW.buyer_id <> OLD.buyer_id
       OR NEW.policyholder_id <> OLD.policyholder_id OR NEW.change <> OLD.change
       OR lower(NEW.period) IS DISTINCT FROM lower(OLD.period)
       OR (NOT upper_inf(OLD.period) AND (upper_inf(NEW.period)
           OR upper(NEW.period) > upper(OLD.period))) THEN
        RAISE EXCEPTION 'a guarantee period may only have its upper bound closed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

REVERSE_SQL = """
CREATE OR REPLACE FUNCTION underwriting_guarantee_only_close() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'guarantee periods are never deleted'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.amount <> OLD.amount OR NEW.primary_amount <> OLD.primary_amount
       OR NEW.contract_id <> OLD.contract_id OR NEW.buyer_id <> OLD.buyer_id
       OR NEW.policyholder_id <> OLD.policyholder_id OR NEW.change <> OLD.change
       OR lower(NEW.period) IS DISTINCT FROM lower(OLD.period)
       OR (NOT upper_inf(OLD.period) AND (upper_inf(NEW.period)
           OR upper(NEW.period) > upper(OLD.period))) THEN
        RAISE EXCEPTION 'a guarantee period may only have its upper bound closed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("underwriting", "0003_decision_message_contract_end")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]

"""Every tenant policy reads the scope once per statement (portal/rls.py, POLICY_SQL) instead
of once per row through `unlockplus_row_visible`, which is dropped. Runs after every app's
tables are under their policy; tables put under it later get the new policy directly."""

from django.db import migrations

from portal.rls import FUNCTION_SQL, POLICY_SQL, SETTING

OLD_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION unlockplus_row_visible(owner uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE coalesce(current_setting('{SETTING}', true), '')
        WHEN 'all' THEN true
        WHEN '' THEN false
        ELSE owner = ANY (string_to_array(current_setting('{SETTING}', true), ',')::uuid[])
    END
$$;
"""


def _alter_every_policy(expression: str) -> str:
    quoted = expression.replace("'", "''")
    return f"""
    DO $$
    DECLARE found record;
    BEGIN
        FOR found IN
            SELECT tablename FROM pg_policies
             WHERE schemaname = current_schema() AND policyname = 'tenant_isolation'
        LOOP
            EXECUTE format(
                'ALTER POLICY tenant_isolation ON %I USING (%s) WITH CHECK (%s)',
                found.tablename, '{quoted}', '{quoted}'
            );
        END LOOP;
    END
    $$;
    """


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0008_delivery_sending"),
        ("billing", "0006_invoice_settlement"),
        ("claims", "0003_claim_idempotency"),
        ("conversations", "0002_row_level_security"),
        ("monitoring", "0003_buyer_insights"),
        ("studies", "0002_row_level_security_and_grid"),
        ("underwriting", "0007_guarantee_period_bounds"),
    ]

    operations = [
        migrations.RunSQL(
            FUNCTION_SQL
            + _alter_every_policy(POLICY_SQL)
            + "DROP FUNCTION IF EXISTS unlockplus_row_visible(uuid);",
            OLD_FUNCTION_SQL + _alter_every_policy("unlockplus_row_visible(policyholder_id)"),
        ),
    ]

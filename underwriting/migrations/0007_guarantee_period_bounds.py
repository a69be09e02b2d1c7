"""A guarantee period's bounds as plain dates (generated, stored) and a btree index on them:
"in force on a day" compares dates (leakproof) so that row-level security does not keep
PostgreSQL off the index; every period has a first day."""

import django.contrib.postgres.fields.ranges
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("underwriting", "0006_contract_answer_time_hours"),
    ]

    operations = [
        migrations.AddField(
            model_name="guarantee",
            name="period_end",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.fields.ranges.RangeEndsWith("period"),
                output_field=models.DateField(),
            ),
        ),
        migrations.AddField(
            model_name="guarantee",
            name="period_start",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.fields.ranges.RangeStartsWith("period"),
                output_field=models.DateField(),
            ),
        ),
        migrations.AddIndex(
            model_name="guarantee",
            index=models.Index(fields=["period_end", "period_start"], name="guarantee_in_force"),
        ),
        migrations.AddConstraint(
            model_name="guarantee",
            constraint=models.CheckConstraint(
                condition=models.Q(("period__startswith__isnull", False)),
                name="guarantee_period_has_start",
            ),
        ),
    ]

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_delivery_batch_key_delivery_not_before_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="policyholder",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="portal.organisation",
            ),
        ),
        # Existing notifications take the policyholder of their event.
        migrations.RunSQL(
            """
            UPDATE portal_notification AS n SET policyholder_id = e.policyholder_id
              FROM portal_auditevent AS e
             WHERE n.event_id = e.id AND n.policyholder_id IS NULL
            """,
            migrations.RunSQL.noop,
        ),
    ]

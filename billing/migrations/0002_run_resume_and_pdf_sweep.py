# Issue 13: resumable billing runs, one failure per (run, contract), the PDF sweep's index.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="billingrun",
            name="resume_after",
            field=models.CharField(blank=True, max_length=30),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["issued_at"], name="billing_inv_issued__60a8ee_idx"),
        ),
        migrations.AddConstraint(
            model_name="billingrunfailure",
            constraint=models.UniqueConstraint(
                fields=("run", "contract"), name="billing_run_failure_once"
            ),
        ),
    ]

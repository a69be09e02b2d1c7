"""The stored PDFs' bytes out of line and uncompressed by PostgreSQL: a PDF's streams are already
deflated, so pglz only spent CPU on every insert (~0.3 ms) and read to give up on them."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_time_ordered_ids"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE billing_invoicepdf ALTER COLUMN content SET STORAGE EXTERNAL",
            reverse_sql="ALTER TABLE billing_invoicepdf ALTER COLUMN content SET STORAGE EXTENDED",
        ),
    ]

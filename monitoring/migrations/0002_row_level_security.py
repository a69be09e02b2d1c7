from django.db import migrations

from portal.rls import enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial"), ("portal", "0002_row_level_security")]

    operations = [*enable_row_level_security("monitoring_alertexposure")]

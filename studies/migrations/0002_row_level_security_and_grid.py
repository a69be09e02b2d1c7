from decimal import Decimal

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from portal.rls import enable_row_level_security

# DESIGN §4, study proposal grid: the defaults the insurer admin may edit.
DEFAULT_GRID = [(8, 10, Decimal("1")), (6, 7, Decimal("0.5")), (4, 5, Decimal("0.25"))]


def default_grid(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    band = apps.get_model("studies", "ProposalGridBand")
    if not band.objects.exists():
        band.objects.bulk_create(
            [
                band(min_grade=low, max_grade=high, factor=factor)
                for low, high, factor in DEFAULT_GRID
            ]
        )


class Migration(migrations.Migration):
    dependencies = [("studies", "0001_initial"), ("portal", "0002_row_level_security")]

    operations = [
        *enable_row_level_security("studies_study", "studies_studyfile", "studies_studyline"),
        migrations.RunPython(default_grid, migrations.RunPython.noop),
    ]

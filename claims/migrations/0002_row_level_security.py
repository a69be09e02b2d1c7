from django.db import migrations

from portal.rls import enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [("claims", "0001_initial"), ("portal", "0002_row_level_security")]

    operations = [
        *enable_row_level_security(
            "claims_claim", "claims_claiminvoice", "claims_claimdocument", "claims_claimmovement"
        )
    ]

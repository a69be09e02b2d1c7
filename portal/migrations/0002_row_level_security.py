from django.db import migrations

from portal.rls import enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("underwriting", "0002_requests_decisions"),
        ("billing", "0001_initial"),
    ]

    operations = enable_row_level_security(
        "underwriting_contract",
        "underwriting_guarantee",
        "underwriting_guaranteerequest",
        "underwriting_decision",
        "underwriting_pendingdecision",
        "underwriting_seasonalexpiry",
        "billing_invoice",
        "billing_invoiceline",
        "billing_invoicepdf",
    )

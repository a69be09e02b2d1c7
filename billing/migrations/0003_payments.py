# Issue 14: payments against invoices (row-level security like every tenant table), and the
# overdue reminder's mark on the invoice.

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from portal.rls import enable_row_level_security


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_run_resume_and_pdf_sweep"),
        ("portal", "0008_delivery_sending"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="reminder_sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="relance envoyée le"),
        ),
        migrations.CreateModel(
            name="Payment",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("received_on", models.DateField(verbose_name="reçu le")),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, max_digits=14, verbose_name="montant"),
                ),
                (
                    "reference",
                    models.CharField(blank=True, max_length=140, verbose_name="référence"),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[("manual", "Saisie"), ("bank_import", "Relevé bancaire")],
                        default="manual",
                        max_length=12,
                        verbose_name="origine",
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="enregistré le"),
                ),
                (
                    "invoice",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to="billing.invoice",
                    ),
                ),
                (
                    "policyholder",
                    models.ForeignKey(
                        limit_choices_to={"kind": "policyholder"},
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="portal.organisation",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "paiement",
                "ordering": ["received_on", "created_at"],
                "indexes": [
                    models.Index(
                        fields=["reference", "received_on", "amount"],
                        name="billing_pay_referen_a1552e_idx",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("amount__gt", 0)), name="payment_amount_positive"
                    )
                ],
            },
        ),
        *enable_row_level_security("billing_payment"),
    ]

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import BillingRunTrigger
from billing.premium import parse_month
from billing.services import billing_run_create, billing_run_execute
from portal.errors import DomainError


class Command(BaseCommand):
    help = (
        "Bills a past month (YYYY-MM) now, in this process. Safe to repeat: contracts already "
        "invoiced for the month are left alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("month", help="The month to bill, e.g. 2026-10.")

    def handle(self, *args: Any, month: str, **options: Any) -> None:
        try:
            first = parse_month(month)
            run = billing_run_create(month=first, trigger=BillingRunTrigger.COMMAND, actor=None)
        except DomainError as error:
            raise CommandError(error.message) from error
        run = billing_run_execute(run_id=run.pk)
        self.stdout.write(
            f"{run.month:%Y-%m}: {run.total} contracts, {run.issued} invoices issued, "
            f"{run.skipped} already invoiced or nothing to bill, {run.failed} failed "
            f"(run {run.pk})"
        )
        for failure in run.failures.all():
            self.stderr.write(f"  {failure.contract_number}: {failure.message}")
        if run.failed:
            raise CommandError(f"{run.failed} contract(s) failed; fix them and run again.")

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing.demo import build_demo_billing
from portal.demo import DEMO_PASSWORD, build_demo_world
from portal.models import ROLES_BY_KIND, OrganisationKind

# Every insurer user signs in with two factors (portal.policy.two_factor_required).
INSURER_ROLES = frozenset(ROLES_BY_KIND[OrganisationKind.INSURER])


class Command(BaseCommand):
    help = "Builds the demo world (idempotent: running it twice changes nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--logins", action="store_true", help="Only print the demo logins.")

    def handle(self, *args: Any, logins: bool = False, **options: Any) -> None:
        accounts = build_demo_world()
        build_demo_billing()
        if not logins:
            self.stdout.write(self.style.SUCCESS(f"Demo world ready ({len(accounts)} logins)."))
            return
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for account in accounts:
            marker = "*" if account.role in INSURER_ROLES else " "
            self.stdout.write(
                f"{marker} {account.email:<45} {account.role:<16} {account.organisation}"
            )
        self.stdout.write(
            "Insurer staff (marked *) sign in with two factors: at their first sign-in they enrol "
            "an authenticator app (TOTP: scan the QR code or type the key shown) and keep the "
            "recovery codes; after that each sign-in asks a code. Policyholders and brokers may "
            "enrol from 'Double authentification'."
        )

"""The demo world: an insurer and its staff, four wholesalers, one broker, two hundred buyers.

Everything is keyed by a natural key and created with get_or_create, so building the world twice
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django_scopes import scopes_disabled
from stdnum import luhn

from portal.models import Mandate, Organisation, OrganisationKind, Role, User
from portal.timeutils import business_today
from underwriting.models import Buyer, Contract, ContractStatus, PremiumBasis

DEMO_PASSWORD = "demo-unlockplus"  # noqa: S105 - documented demo password
DEMO_DOMAIN = "demo.unlockplus.fr"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    organisation: str


INSURER_STAFF = [
    ("arbitre1", "Claire", "Martin", Role.ARBITER, Decimal("150000")),
    ("arbitre2", "Hugo", "Bernard", Role.ARBITER, Decimal("150000")),
    ("senior", "Sophie", "Lefèvre", Role.SENIOR_ARBITER, Decimal("1000000")),
    ("sinistres", "Karim", "Haddad", Role.CLAIMS_HANDLER, None),
    ("finance", "Julie", "Moreau", Role.FINANCE_OPS, None),
    ("admin", "Admin", "Unlock Plus", Role.ADMIN, None),
]

WHOLESALERS = [
    # name, slug, SIREN, primary insurer, primary policy, rate, basis
    (
        "Distrilog Informatique SAS",
        "distrilog",
        "552100554",
        "Allianz Trade",
        "AT-778812",
        "0.0012",
        PremiumBasis.PEAK,
    ),
    (
        "InfoGrossiste France SA",
        "infogrossiste",
        "732829320",
        "Coface",
        "CF-2231-09",
        "0.0011",
        PremiumBasis.PEAK,
    ),
    (
        "MicroStock Distribution",
        "microstock",
        "443061841",
        "Atradius",
        "AX-55120",
        "0.0013",
        PremiumBasis.PRORATA,
    ),
    (
        "Techno Diffusion Ouest",
        "technodiff",
        "414819409",
        "Allianz Trade",
        "AT-991045",
        "0.0012",
        PremiumBasis.PEAK,
    ),
]

BUYER_PREFIXES = ["Info", "Micro", "Net", "Data", "Tech", "Digi", "Soft", "Cyber", "Logi", "Numeri"]
BUYER_SUFFIXES = [
    "Services",
    "Systèmes",
    "Solutions",
    "Boutique",
    "Conseil",
    "Réseaux",
    "Store",
    "Distribution",
    "Pro",
    "Center",
]
CITIES = [
    "Paris",
    "Lyon",
    "Marseille",
    "Toulouse",
    "Nantes",
    "Lille",
    "Bordeaux",
    "Rennes",
    "Strasbourg",
    "Montpellier",
]
# The policyholders' addresses are printed in full on their invoices: street, postcode, city.
POSTCODES = dict(
    zip(
        CITIES,
        ["75008", "69002", "13002", "31000", "44000", "59000", "33000", "35000", "67000", "34000"],
        strict=True,
    )
)


def demo_siren(index: int) -> str:
    base = f"{(31_415_926 + index * 7_919) % 100_000_000:08d}"
    return base + luhn.calc_check_digit(base)


def _user(
    *,
    username: str,
    first: str,
    last: str,
    organisation: Organisation,
    role: str,
    authority: Decimal | None = None,
    superuser: bool = False,
) -> User:
    email = f"{username}@{DEMO_DOMAIN}"
    user, created = User.objects.get_or_create(
        username=email,
        defaults={
            "email": email,
            "first_name": first,
            "last_name": last,
            "organisation": organisation,
            "role": role,
            "authority_amount": authority,
            "is_superuser": superuser,
            "is_staff": superuser,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def contract_start(index: int) -> date:
    """The first two contracts began in January (the claims demo needs months of history);
    the third in the middle of the month three months ago, the fourth last month, so billing
    shows a contract's first, partial month and no month before a contract began."""
    if index < 2:
        return date(2026, 1, 1)
    first = business_today().replace(day=1)
    months_back = 3 if index == 2 else 1
    year, month = divmod(first.year * 12 + first.month - 1 - months_back, 12)
    return date(year, month + 1, 10 if index == 2 else 1)


def build_demo_world() -> list[DemoLogin]:
    logins = _build_demo_world()
    # Monitoring imports through its services, which own their transactions: after commit.
    from monitoring.demo import build_demo_monitoring

    build_demo_monitoring()
    from claims.demo import build_demo_claims

    build_demo_claims()
    from conversations.demo import build_demo_conversations

    build_demo_conversations()
    return logins


@transaction.atomic
def _build_demo_world() -> list[DemoLogin]:
    logins: list[DemoLogin] = []
    with scopes_disabled():
        insurer, _ = Organisation.objects.get_or_create(
            kind=OrganisationKind.INSURER,
            name="Unlock Plus Assurance",
            defaults={"siren": "542065479", "address": "12 rue de la Paix\n75002 Paris"},
        )
        staff: dict[str, User] = {}
        for username, first, last, role, authority in INSURER_STAFF:
            staff[username] = _user(
                username=username,
                first=first,
                last=last,
                organisation=insurer,
                role=role,
                authority=authority,
                superuser=role == Role.ADMIN,
            )
            logins.append(DemoLogin(staff[username].email, role, insurer.name))
        arbiters = [staff["arbitre1"], staff["arbitre2"]]

        policyholders: list[Organisation] = []
        for index, (name, slug, siren, insurer_name, policy, rate, basis) in enumerate(WHOLESALERS):
            policyholder, _ = Organisation.objects.get_or_create(
                kind=OrganisationKind.POLICYHOLDER,
                siren=siren,
                defaults={
                    "name": name,
                    "address": f"{10 + index} avenue des Grossistes\n"
                    f"{POSTCODES[CITIES[index]]} {CITIES[index]}",
                    "dedicated_arbiter": arbiters[index % 2],
                },
            )
            policyholders.append(policyholder)
            for username, first, last, role in [
                (f"credit.{slug}", "Camille", "Durand", Role.CREDIT_MANAGER),
                (f"finance.{slug}", "Thomas", "Petit", Role.FINANCE),
                (f"admin.{slug}", "Nadia", "Roux", Role.ORG_ADMIN),
            ]:
                user = _user(
                    username=username, first=first, last=last, organisation=policyholder, role=role
                )
                logins.append(DemoLogin(user.email, role, policyholder.name))
            Contract.objects.get_or_create(
                number=f"UP-C-{2026}{index + 1:04d}",
                defaults={
                    "policyholder": policyholder,
                    "primary_insurer_name": insurer_name,
                    "primary_policy_number": policy,
                    "status": ContractStatus.ACTIVE,
                    "starts_on": contract_start(index),
                    "monthly_rate": Decimal(rate),
                    "premium_basis": basis,
                    "aggregate_cap": Decimal("5000000"),
                    "discretionary_limit": Decimal("20000") if index % 2 == 0 else None,
                    "instant_min_grade": 6 if index % 2 == 0 else None,
                    "minimum_premium": Decimal("150.00"),
                    "tax_rate": Decimal("0.0900"),
                },
            )

        broker, _ = Organisation.objects.get_or_create(
            kind=OrganisationKind.BROKER,
            siren="383474814",
            defaults={"name": "Courtage Conseil Crédit", "address": "3 place de la Bourse\nParis"},
        )
        broker_user = _user(
            username="courtier", first="Marc", last="Lambert", organisation=broker, role=Role.BROKER
        )
        logins.append(DemoLogin(broker_user.email, Role.BROKER, broker.name))
        for policyholder in policyholders[:2]:
            Mandate.objects.get_or_create(
                broker=broker, policyholder=policyholder, defaults={"starts_on": date(2026, 1, 1)}
            )

        existing = set(Buyer.objects.values_list("siren", flat=True))
        Buyer.objects.bulk_create(
            [
                Buyer(
                    siren=demo_siren(i),
                    name=f"{BUYER_PREFIXES[i % 10]}{BUYER_SUFFIXES[(i // 10) % 10].lower()} "
                    f"{CITIES[(i // 3) % 10]} {i + 1:03d}",
                    city=CITIES[(i // 3) % 10],
                    grade=2 + (i * 5) % 9,
                )
                for i in range(200)
                if demo_siren(i) not in existing
            ]
        )
        from underwriting.demo import build_demo_underwriting

        build_demo_underwriting(
            policyholders=policyholders,
            buyers=list(Buyer.objects.filter(siren__in=[demo_siren(i) for i in range(200)])),
        )
    return logins

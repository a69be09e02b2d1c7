"""Prospects: a wholesaler that is not on the platform yet, brought in by a broker's study."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import Mandate, Organisation, OrganisationKind, Role, User
from portal.tenancy import scope_including
from portal.timeutils import business_today
from studies.events import StudyEvent
from studies.models import Study
from underwriting.identifiers import parse_company_id
from underwriting.models import Contract, ContractStatus


@dataclass(frozen=True)
class ProspectInput:
    name: str
    siren: str
    address: str
    contact_name: str
    contact_email: str
    primary_insurer_name: str
    primary_policy_number: str


def _contract_number(siren: str) -> str:
    return f"UP-P-{business_today():%Y}-{siren}"


def prospect_create(*, data: ProspectInput, actor: User) -> Contract:
    """The prospect as a policyholder with a draft contract and a mandate for the actor's
    broker. Nobody at the prospect can sign in: its contact is invited on acceptance.

    A building block of `study_start_for_prospect` (runs in its transaction)."""
    policy.require(policy.is_broker_user(actor))
    if not data.name.strip():
        raise RuleViolation(_("Indiquez la raison sociale du prospect."), field="name")
    company = parse_company_id(data.siren, field="siren")
    if company.siren is None:
        raise RuleViolation(_("Un prospect est identifié par son SIREN."), field="siren")
    if not data.contact_email.strip():
        raise RuleViolation(_("Indiquez l'e-mail du contact."), field="contact_email")
    if User.objects.filter(email__iexact=data.contact_email.strip()).exists():
        raise Conflict(
            _("Cette adresse e-mail a déjà un compte sur la plateforme."), field="contact_email"
        )
    if not data.primary_insurer_name.strip() or not data.primary_policy_number.strip():
        raise RuleViolation(
            _("Indiquez l'assureur-crédit primaire et le numéro de police."),
            field="primary_insurer_name",
        )
    try:
        with transaction.atomic():
            organisation = Organisation.objects.create(
                kind=OrganisationKind.POLICYHOLDER,
                name=data.name.strip()[:200],
                siren=company.siren,
                address=data.address.strip(),
                dedicated_arbiter=_default_arbiter(),
            )
    except IntegrityError:
        raise Conflict(
            _("Ce SIREN est déjà celui d'une organisation de la plateforme."), field="siren"
        ) from None
    assert actor.organisation is not None
    Mandate.objects.create(
        broker=actor.organisation, policyholder=organisation, starts_on=business_today()
    )
    with scope_including(organisation.pk):  # the database's policy must see the new tenant
        contract = Contract.objects.create(
            policyholder=organisation,
            number=_contract_number(company.siren),
            primary_insurer_name=data.primary_insurer_name.strip()[:120],
            primary_policy_number=data.primary_policy_number.strip()[:60],
            status=ContractStatus.DRAFT,
            starts_on=business_today(),
            monthly_rate=Decimal(settings.STUDY_DEFAULT_MONTHLY_RATE),
        )
        event_record(
            action=StudyEvent.PROSPECT_CREATED,
            actor=actor,
            obj=contract,
            policyholder=organisation,
            data={"siren": company.siren, "contact_email": data.contact_email.strip()},
        )
    return contract


def _default_arbiter() -> User | None:
    """The arbiter with the fewest policyholders becomes the prospect's dedicated arbiter."""
    from django.db.models import Count

    from portal.models import Role

    return (
        User.objects.filter(
            organisation__kind=OrganisationKind.INSURER, role=Role.ARBITER, is_active=True
        )
        .annotate(load=Count("dedicated_policyholders"))
        .order_by("load", "pk")
        .first()
    )


def contact_account(study: Study) -> User | None:
    """The prospect's contact as an account that cannot sign in yet (inactive, no password):
    created when the report is issued, so that the invitation can reach it."""
    if not study.is_prospect or not study.contact_email:
        return None
    email = study.contact_email.strip()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing if existing.organisation_id == study.policyholder_id else None
    first, _sep, last = study.contact_name.strip().partition(" ")
    user = User(
        username=email,
        email=email,
        first_name=first[:150],
        last_name=last[:150],
        organisation_id=study.policyholder_id,
        role=Role.ORG_ADMIN,
        is_active=False,
    )
    user.set_unusable_password()
    user.save()
    return user

"""The global buyer registry: find a buyer by any identifier, or add it."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import RuleViolation
from portal.events import event_record
from portal.models import User
from underwriting import selectors
from underwriting.events import UnderwritingEvent
from underwriting.identifiers import parse_company_id
from underwriting.models import Buyer


def buyer_find_or_create(*, identifier: str, name: str = "", actor: User | None) -> Buyer:
    """The buyer with this SIREN / SIRET / VAT number, created if the identifier is unknown.

    `actor=None` is the system (imports, demo data); a user must be allowed to add buyers.
    """
    company = parse_company_id(identifier, field="identifier")
    existing = selectors.buyer_by_company_id(
        siren=company.siren, vat_number=company.vat_number
    ).first()
    if existing is not None:
        return existing
    if actor is not None:
        policy.require(policy.can_look_up_buyers(actor))
    name = (name or "").strip()
    if not name:
        raise RuleViolation(
            _("Acheteur inconnu : indiquez sa raison sociale pour le créer."), field="name"
        )
    try:
        with transaction.atomic():
            buyer = Buyer.objects.create(
                siren=company.siren,
                vat_number=company.vat_number,
                country=company.country,
                name=name[:200],
            )
            event_record(
                action=UnderwritingEvent.BUYER_CREATED,
                actor=actor,
                obj=buyer,
                data={"identifier": identifier},
            )
    except IntegrityError:
        # Created at the same moment by someone else: the registry is global.
        buyer = selectors.buyer_by_company_id(
            siren=company.siren, vat_number=company.vat_number
        ).get()
    return buyer

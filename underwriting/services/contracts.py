"""The end of a contract's cover: termination and suspension (insurer admin).

Both end every top-up on the contract from the date given, as new periods (DESIGN §4), and the
contract's own dates bound every premium (`billing.premium_sql` clips periods to them).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record
from portal.models import User
from portal.timeutils import business_today
from underwriting import selectors
from underwriting.events import UnderwritingEvent
from underwriting.models import Contract, ContractStatus, GuaranteeChange
from underwriting.services.guarantees import guarantees_end
from underwriting.services.periods import lock_contract


def _end_cover(*, contract: Contract, on: date, actor: User, reason: str) -> int:
    """End every buyer's cover on `contract` from `on`: in force then, or planned later."""
    return guarantees_end(
        guarantees=selectors.covers_from(on=on, contract=contract),
        on=on,
        change=GuaranteeChange.CONTRACT_END,
        actor=actor,
        note=reason,
    )


def _checked(*, contract: Contract, on: date, actor: User, reason: str) -> Contract:
    policy.require(policy.can_manage_contracts(actor))
    if not reason.strip():
        raise RuleViolation(_("Indiquez le motif."), field="reason")
    if on < business_today():
        raise RuleViolation(
            _("La fin de couverture ne peut pas être rétroactive."), field="effective_on"
        )
    lock_contract(contract)
    contract.refresh_from_db(fields=["status", "starts_on", "ends_on"])
    if contract.status not in (ContractStatus.ACTIVE, ContractStatus.SUSPENDED):
        raise Conflict(_("Ce contrat n'est pas en vigueur."), field="effective_on")
    if on <= contract.starts_on:
        raise RuleViolation(
            _("La date doit suivre la date d'effet du contrat."), field="effective_on"
        )
    return contract


def _cover_end(
    *,
    contract: Contract,
    effective_on: date,
    actor: User,
    reason: str,
    status: str,
    action: UnderwritingEvent,
) -> int:
    ended = _end_cover(contract=contract, on=effective_on, actor=actor, reason=reason)
    contract.status = status
    update = ["status"]
    if status == ContractStatus.TERMINATED:
        contract.ends_on = effective_on - timedelta(days=1)
        update.append("ends_on")
    contract.save(update_fields=update)
    event_record(
        action=action,
        actor=actor,
        obj=contract,
        policyholder=contract.policyholder,
        reason=reason,
        data={"from": effective_on.isoformat(), "guarantees_ended": ended},
    )
    return ended


@transaction.atomic(durable=True)
def contract_terminate(*, contract: Contract, effective_on: date, actor: User, reason: str) -> int:
    """Terminate from `effective_on` (the first day without cover): the contract's last day is
    the day before, every top-up ends from that date. Returns how many top-ups it ended."""
    contract = _checked(contract=contract, on=effective_on, actor=actor, reason=reason)
    return _cover_end(
        contract=contract,
        effective_on=effective_on,
        actor=actor,
        reason=reason,
        status=ContractStatus.TERMINATED,
        action=UnderwritingEvent.CONTRACT_TERMINATED,
    )


@transaction.atomic(durable=True)
def contract_suspend(*, contract: Contract, effective_on: date, actor: User, reason: str) -> int:
    """Suspend from `effective_on`: cover ends from that date (new requests are refused while
    the contract is not active). Returns how many top-ups it ended."""
    contract = _checked(contract=contract, on=effective_on, actor=actor, reason=reason)
    if contract.status == ContractStatus.SUSPENDED:
        raise Conflict(_("Ce contrat est déjà suspendu."), field="effective_on")
    return _cover_end(
        contract=contract,
        effective_on=effective_on,
        actor=actor,
        reason=reason,
        status=ContractStatus.SUSPENDED,
        action=UnderwritingEvent.CONTRACT_SUSPENDED,
    )

"""Helpers for the study tests: a buyer list as a French spreadsheet saves it, a broker's
prospect, graded buyers, and a study at the stage a test needs, built through the services."""

from __future__ import annotations

from typing import Literal

from portal.models import Role, User
from studies import services
from studies.models import Study
from studies.services import ProspectInput
from tests.support.factories import BuyerFactory, siren_for
from tests.support.scopes import acting_as
from tests.support.world import Tenant, World
from underwriting.models import Buyer

HEADER = "SIREN;Raison sociale;Encours;Limite primaire;Top-up demandé"

# new: started, no list; draft: list analysed; submitted: sent to the insurer; awaiting: an
# arbiter's finalisation above its authority (none recorded); finalised: by a senior arbiter.
Stage = Literal["new", "draft", "submitted", "awaiting", "finalised"]


def buyer_row(
    identifier: str,
    exposure: str = "100 000",
    primary: str = "40 000",
    top_up: str = "",
    *,
    name: str | None = None,
) -> str:
    """One line of the list; the name is "Revendeur <identifier>" unless given."""
    shown = f"Revendeur {identifier}" if name is None else name
    return f"{identifier};{shown};{exposure};{primary};{top_up}"


def buyer_list_csv(*rows: str) -> bytes:
    """The template's header then `rows` (an empty one is a blank line): BOM, semicolons, CRLF,
    as a French spreadsheet saves it. With no row, a header-only file."""
    return "".join(f"{line}\r\n" for line in ("\ufeff" + HEADER, *rows)).encode()


def graded_buyer(n: int, grade: int = 9, **fields: object) -> Buyer:
    """Buyer n of the registry (SIREN `siren_for(7000 + n)`, "Revendeur n"), the same if asked
    again; a good grade by default, so that the grid proposes the full top-up."""
    siren = siren_for(7000 + n)
    existing = Buyer.objects.filter(siren=siren).first()
    return existing or BuyerFactory.create(
        siren=siren, name=f"Revendeur {n}", grade=grade, **fields
    )


def prospect_fields(**changes: str) -> dict[str, str]:
    """A broker's prospect as its form or the API takes it."""
    return {
        "name": "Nouveau Grossiste SAS",
        "siren": siren_for(9001),
        "address": "1 rue du Port, 44000 Nantes",
        "contact_name": "Camille Durand",
        "contact_email": "camille@nouveau-grossiste.test",
        "primary_insurer_name": "Coface",
        "primary_policy_number": "CF-123456",
        **changes,
    }


def prospect_input(**changes: str) -> ProspectInput:
    return ProspectInput(**prospect_fields(**changes))


def study_at(
    world: World,
    stage: Stage,
    *rows: str,
    tenant: Tenant | None = None,
    by: User | None = None,
) -> Study:
    """A study at `stage` with `rows` as its list: the tenant's study on its contract, or, with
    no tenant, the broker's study of a new prospect (`prospect_input()`). `by` starts, uploads and
    submits it: the tenant's credit manager or the broker unless given."""
    client = by or (tenant.credit_manager if tenant is not None else world.broker_user)
    with acting_as(client):
        if tenant is None:
            study = services.study_start_for_prospect(data=prospect_input(), actor=client)
        else:
            study = services.study_start(contract=tenant.contract, actor=client)
    if stage == "new":
        return study
    with acting_as(client):
        study = services.study_upload(
            study_id=study.pk,
            content=buyer_list_csv(*rows),
            filename="acheteurs.csv",
            actor=client,
        )
        if stage != "draft":
            study = services.study_submit(study_id=study.pk, actor=client)
    if stage in ("awaiting", "finalised"):
        insurer = world.staff[Role.ARBITER if stage == "awaiting" else Role.SENIOR_ARBITER]
        with acting_as(insurer):
            study = services.study_finalise(study_id=study.pk, actor=insurer)
    return study

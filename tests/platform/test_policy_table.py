"""Who may do what: DESIGN §3's table, written below as data, against the policy module and
against every write endpoint (pages and API).

The write routes are discovered from the URL configuration: a route that accepts POST and is not
mapped to a row of the table (or listed as not a business action) fails the test until it is.
Each (route, role) case gets a fresh world, so an allowed action never consumes what the next
role needs; a refused role must get 404 (or 403) and leave the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from portal import policy
from portal.models import AuditEvent, User
from portal.timeutils import business_today
from studies.models import Study, StudyLine
from tests.support.clients import client_for, token_client
from tests.support.factories import BuyerFactory, siren_for
from tests.support.roles import INSURER_ROLES, POLICYHOLDER_ROLES, ROLES, user_for
from tests.support.scopes import acting_as, insurer_scope
from tests.support.studies import Stage, buyer_list_csv, buyer_row, study_at
from tests.support.underwriting import submit
from tests.support.world import World
from underwriting import services
from underwriting.models import (
    Buyer,
    Contract,
    Guarantee,
    GuaranteeRequest,
    PendingDecision,
)

EVERY_USER = frozenset({*POLICYHOLDER_ROLES, "broker", *INSURER_ROLES})
INSURER = frozenset(INSURER_ROLES)


@dataclass(frozen=True)
class Row:
    """One line of DESIGN §3 "Who may do what", with the policy function that answers it."""

    action: str
    roles: frozenset[str]
    answer: Callable[[Any], bool]


HANDLE_CLAIMS = "handle claims, record the primary's settlement, compute and propose an indemnity"
APPROVE_INDEMNITY = "approve an indemnity above the handler's authority"
DECLARE_CLAIMS = "declare a claim, add invoices and documents"
CLAIM_DOCUMENTS = "add a supporting document to a claim"
INSIGHTS = "publish an insight on a buyer (seen by exposed policyholders only)"
CONVERSE = "read and write in a policyholder's conversation space"
JOIN_THREADS = "join a client's conversation thread"
ASSIGN_ARBITERS = "assign dedicated arbiters"
SECURITY_AUDIT = "read the security audit (sign-ins, tokens, sessions, roles, mandates)"
TWO_FACTOR_POLICY = "manage the organisation's 2FA policy"


def _writes_in_alices_space(user: Any) -> bool:
    """Her users and mandated broker (the scope); of the insurer, the arbiter in charge of her
    (dedicated or stand-in): the world's arbiter. Others join a thread first (JOIN_THREADS)."""
    from conversations.selectors import clients_in_charge

    if not policy.can_use_conversations(user):
        return False
    return not policy.is_insurer_staff(user) or bool(clients_in_charge(user))


# DESIGN §3, "Who may do what". Insurer admin may do everything an insurer role may; the broker
# is the one mandated for alice (its scope holds only alice); "inactive" and "no_organisation"
# appear in no row: they may do nothing.
TABLE: dict[str, Row] = {
    row.action: row
    for row in (
        Row("see contracts, requests, guarantees, alerts", EVERY_USER, policy.can_see_cover),
        Row(
            "look up or add a buyer",
            frozenset({"credit_manager", "org_admin", "broker"}),
            policy.can_look_up_buyers,
        ),
        Row(
            "ask for the largest top-up or submit a top-up request",
            frozenset({"credit_manager", "org_admin", "broker"}),
            policy.can_request_top_up,
        ),
        Row(
            "withdraw a request",
            frozenset({"credit_manager", "org_admin", "broker"}),
            policy.can_withdraw_request,
        ),
        Row(
            "report a primary limit",
            frozenset({"credit_manager", "org_admin", "broker"}),
            policy.can_report_primary,
        ),
        Row(
            "see invoices, download PDFs",
            frozenset({"finance", "org_admin", "broker", "finance_ops", "admin"}),
            policy.can_see_invoices,
        ),
        Row(
            "decide requests",
            frozenset({"arbiter", "senior_arbiter", "admin"}),
            policy.can_decide,
        ),
        # Assigning a request is part of the arbiters' work on requests.
        Row(
            "assign a request to an arbiter",
            frozenset({"arbiter", "senior_arbiter", "admin"}),
            policy.can_assign_requests,
        ),
        Row(
            "work the arbiter queue",
            frozenset({"arbiter", "senior_arbiter", "admin"}),
            policy.can_see_queue,
        ),
        Row(
            "reduce or cancel a guarantee",
            frozenset({"arbiter", "senior_arbiter", "admin"}),
            policy.can_change_guarantees,
        ),
        Row(
            "countersign above an authority",
            frozenset({"senior_arbiter", "admin"}),
            policy.can_countersign,
        ),
        # The back-office home: arbiters and the claims handler (handle claims), and the admin.
        Row(
            "open the back office",
            frozenset({"arbiter", "senior_arbiter", "claims_handler", "admin"}),
            policy.can_see_backoffice,
        ),
        Row("run billing", frozenset({"finance_ops", "admin"}), policy.can_run_billing),
        Row(
            "issue credit notes", frozenset({"finance_ops", "admin"}), policy.can_issue_credit_note
        ),
        Row("record payments", frozenset({"finance_ops", "admin"}), policy.can_record_payments),
        Row(
            "terminate or suspend a contract",
            frozenset({"admin"}),
            policy.can_manage_contracts,
        ),
        Row(
            "start a study, upload a buyer list, accept or decline a study",
            frozenset({"credit_manager", "org_admin", "broker"}),
            policy.can_work_on_studies,
        ),
        # A prospect is not on the platform yet: only a broker brings one (DESIGN §4 "Study").
        Row("start a study for a prospect", frozenset({"broker"}), policy.is_broker_user),
        Row(
            "finalise studies, adjust lines",
            frozenset({"arbiter", "senior_arbiter", "admin"}),
            policy.can_finalise_studies,
        ),
        Row(
            "import buyer-health data",
            frozenset({"arbiter", "senior_arbiter", "admin"}),
            policy.can_import_health_data,
        ),
        # "Arbiters watch the portfolio" (DESIGN §1): the monitoring page and its import history.
        Row(
            "watch the portfolio",
            frozenset({"arbiter", "senior_arbiter", "admin"}),
            policy.can_watch_portfolio,
        ),
        Row(
            INSIGHTS,
            frozenset({"arbiter", "senior_arbiter", "admin"}),
            policy.can_publish_insights,
        ),
        Row(
            DECLARE_CLAIMS,
            frozenset({"credit_manager", "org_admin", "broker"}),
            policy.can_declare_claims,
        ),
        # Those who declare add documents; so does the claims handler working the claim (the
        # primary's letters): `claim_document_add` lets both.
        Row(
            CLAIM_DOCUMENTS,
            frozenset({"credit_manager", "org_admin", "broker", "claims_handler", "admin"}),
            lambda user: policy.can_declare_claims(user) or policy.can_handle_claims(user),
        ),
        Row(
            HANDLE_CLAIMS,
            frozenset({"claims_handler", "admin"}),
            policy.can_handle_claims,
        ),
        Row(
            APPROVE_INDEMNITY,
            frozenset({"senior_arbiter", "admin"}),
            policy.can_countersign_indemnity,
        ),
        # "Every insurer role sees claims": the back office's queue, claim files and export.
        Row("read claims in the back office", INSURER, policy.is_insurer_staff),
        Row("read decisions' internal notes", INSURER, policy.can_read_internal_notes),
        Row("use the Django admin site", frozenset({"admin"}), policy.can_use_admin_site),
        Row(
            CONVERSE,
            frozenset({*POLICYHOLDER_ROLES, "broker", "arbiter"}),
            _writes_in_alices_space,
        ),
        Row(JOIN_THREADS, INSURER, policy.can_join_threads),
        Row(ASSIGN_ARBITERS, frozenset({"admin"}), policy.can_assign_arbiters),
        Row(SECURITY_AUDIT, frozenset({"admin"}), policy.can_read_security_audit),
        # The organisation's own page; the insurer admin sets any organisation's in the admin.
        Row(TWO_FACTOR_POLICY, frozenset({"org_admin"}), policy.can_manage_own_two_factor_policy),
    )
}

# What templates ask (`may.<name>`) and the row each answer must follow.
MAY: dict[str, str] = {
    "request_top_up": "ask for the largest top-up or submit a top-up request",
    "see_invoices": "see invoices, download PDFs",
    "see_backoffice": "open the back office",
    "see_queue": "work the arbiter queue",
    "decide": "decide requests",
    "change_guarantees": "reduce or cancel a guarantee",
    "run_billing": "run billing",
    "issue_credit_note": "issue credit notes",
    "record_payments": "record payments",
    "manage_contracts": "terminate or suspend a contract",
    "read_internal_notes": "read decisions' internal notes",
    "work_on_studies": "start a study, upload a buyer list, accept or decline a study",
    "finalise_studies": "finalise studies, adjust lines",
    "use_admin_site": "use the Django admin site",
    "import_health_data": "import buyer-health data",
    "handle_claims": HANDLE_CLAIMS,
    "countersign_indemnity": APPROVE_INDEMNITY,
    "declare_claims": DECLARE_CLAIMS,
    "watch_portfolio": "watch the portfolio",
    "publish_insights": INSIGHTS,
    "assign_arbiters": ASSIGN_ARBITERS,
    # The inbox is the arbiters' work queue for their clients' questions.
    "see_inbox": "work the arbiter queue",
    # Resuming a request held for collective proceedings is part of deciding it.
    "resume_requests": "decide requests",
    "read_security_audit": SECURITY_AUDIT,
    "manage_two_factor_policy": TWO_FACTOR_POLICY,
}


# --- 1. the policy module answers the table -------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_policy_module_answers_the_table_for_every_role(world: World, role: str) -> None:
    user = user_for(world, role)
    wrong = {
        row.action: row.answer(user)
        for row in TABLE.values()
        if row.answer(user) != (role in row.roles)
    }
    assert wrong == {}, f"{role}: policy answers differ from DESIGN §3"
    may = policy.May(user)
    assert {name: getattr(may, name) for name in MAY} == {
        name: role in TABLE[row].roles for name, row in MAY.items()
    }


def test_a_senior_arbiter_never_countersigns_their_own_proposal(world: World) -> None:
    senior = world.staff["senior_arbiter"]
    assert policy.can_countersign(senior, proposed_by_id=world.staff["arbiter"].pk)
    assert not policy.can_countersign(senior, proposed_by_id=senior.pk)


# --- 2. every write endpoint answers the table ------------------------------------------------

# POST-capable routes that are not business actions of the table.
NOT_BUSINESS_ACTIONS = {
    "login",
    "logout",
    "password_reset",
    "password_reset_confirm",
    # The prospect contact's answer: its credential is the one-time link it was sent (its
    # account cannot sign in before), tested in tests/studies/test_invitation.py.
    "study_invitation",
    "set_language",
    "api-token",
    "api-logout",
    "api-logout-all",
    # A user's own API tokens (tests/portal/test_api_tokens.py).
    "account_token_revoke",
    "account_tokens_revoke_all",
    # A user's own browser sessions (tests/portal/test_sessions.py).
    "account_session_revoke",
    "account_sessions_end",
    # A user's own second factor (tests/portal/test_two_factor_*.py).
    "two_factor_verify",
    "two_factor_confirm",
    "two_factor_recovery_codes",
    "two_factor_disable",
}
# Read pages written as plain function views: they accept a POST but treat it as a GET (no
# write). Listed so that a new route has to be placed in the table or here, knowingly.
READ_PAGES_IGNORING_POST = {
    "home",
    "bench_bare",
    "no_organisation",
    "dashboard",
    "broker_clients",
    "backoffice",
    "finance_home",
    "notifications",
    "policyholder_detail",
    "contract_detail",
    "buyer_page",
    "request_list",
    "request_detail",
    "guarantee_list",
    "queue",
    "buyer_risk_file",
}


def _accepted_methods(callback: Any) -> set[str] | None:
    """The HTTP methods a view accepts, or None when it does not restrict them."""
    if hasattr(callback, "actions"):  # DRF viewset route
        return {method.upper() for method in callback.actions}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return {
            method.upper()
            for method in view_class.http_method_names
            if method != "options" and hasattr(view_class, method)
        }
    function: Any = callback
    while function is not None:
        for name, cell in zip(
            function.__code__.co_freevars, function.__closure__ or (), strict=True
        ):
            if name == "request_method_list":
                return {method.upper() for method in cell.cell_contents}
        function = getattr(function, "__wrapped__", None)
    return None


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if namespace == "" and entry.app_name == "admin":
                continue  # Django admin: insurer superusers only (tests/portal/test_role_access)
            child = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, child)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry.callback


def post_routes() -> set[str]:
    names = set()
    for name, callback in _walk(get_resolver().url_patterns):
        methods = _accepted_methods(callback)
        if methods is None or "POST" in methods:
            names.add(name)
    return names


# --- the objects a write acts on, built fresh for each case -----------------------------------


@dataclass
class Objects:
    """alice's objects, built on first use within one case."""

    world: World
    _cache: dict[str, Any] = field(default_factory=dict)

    def _once(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def contract(self) -> Contract:
        return self.world.alice.contract

    @property
    def guarantee(self) -> Guarantee:
        def build() -> Guarantee:
            buyer = new_buyer()
            granted = submit(self.world.alice, buyer)
            senior = self.world.staff["senior_arbiter"]
            with acting_as(senior):
                services.guarantee_request_decide(
                    request_id=granted.pk, outcome="approved", actor=senior
                )
                return Guarantee.objects.get(contract=self.contract, buyer=buyer)

        result: Guarantee = self._once("guarantee", build)
        return result

    @property
    def open_request(self) -> GuaranteeRequest:
        def build() -> GuaranteeRequest:
            return submit(self.world.alice, new_buyer(), top_up="30000")

        result: GuaranteeRequest = self._once("open_request", build)
        return result

    @property
    def held_request(self) -> GuaranteeRequest:
        """An open request held for collective proceedings opened on its buyer."""

        def build() -> GuaranteeRequest:
            from django.db import transaction

            from underwriting.services.requests import guarantee_requests_hold

            request = submit(self.world.alice, new_buyer(), top_up="30000")
            with insurer_scope(), transaction.atomic():
                guarantee_requests_hold(buyer_ids=[request.buyer_id], reason="sauvegarde")
            return request

        result: GuaranteeRequest = self._once("held_request", build)
        return result

    @property
    def awaiting_countersignature(self) -> GuaranteeRequest:
        """An arbiter's approval above its authority (none recorded: every approval)."""

        def build() -> GuaranteeRequest:
            request = submit(self.world.alice, new_buyer(), top_up="30000")
            arbiter = self.world.staff["arbiter"]
            with acting_as(arbiter):
                result = services.guarantee_request_decide(
                    request_id=request.pk, outcome="approved", actor=arbiter
                )
            assert result.pending is not None
            return request

        result: GuaranteeRequest = self._once("pending", build)
        return result

    @property
    def invoice(self) -> Any:
        def build() -> Any:
            from datetime import date

            from billing.premium import month_before, month_first
            from billing.services import invoice_issue
            from tests.support.billing import guarantee

            month = month_before(month_first(business_today()))
            guarantee(self.contract, new_buyer(), "40000", date(2020, 1, 1))
            with acting_as(self.world.staff["finance_ops"]):
                return invoice_issue(contract=self.contract, month=month)

        return self._once("invoice", build)


def new_buyer() -> Buyer:
    return cast(Buyer, BuyerFactory())


def _today() -> str:
    return business_today().isoformat()


def _last_month() -> str:
    return f"{business_today().replace(day=1) - timedelta(days=1):%Y-%m}"


Call = tuple[str, dict[str, Any]]  # url, payload


def _new_buyer_row() -> str:
    return buyer_row(new_buyer().siren or "", "100000", "40000", name="X")


def alices_study(objects: Objects, stage: Stage) -> Study:
    """alice's study with a one-line analysed list, at `stage` (`tests.support.studies.Stage`).
    One per case: a contract has one open study at a time."""

    def build() -> Study:
        return study_at(objects.world, stage, _new_buyer_row(), tenant=objects.world.alice)

    result: Study = objects._once(f"study-{stage}", build)
    return result


def alices_study_line(objects: Objects) -> StudyLine:
    """The line of alice's submitted study, which the insurer adjusts."""
    study = alices_study(objects, "submitted")
    with insurer_scope():
        return StudyLine.objects.get(study=study)


def _study_url(name: str, objects: Objects, stage: Stage) -> str:
    return reverse(name, args=[alices_study(objects, stage).pk])


def _study_line_url(name: str, objects: Objects) -> str:
    return reverse(
        name, args=[alices_study(objects, "submitted").pk, alices_study_line(objects).pk]
    )


def _buyer_list() -> SimpleUploadedFile:
    content = buyer_list_csv(_new_buyer_row())
    return SimpleUploadedFile("acheteurs.csv", content, content_type="text/csv")


def _bodacc_file() -> SimpleUploadedFile:
    from tests.support.monitoring import json_lines, notice

    content = json_lines(notice(siren=new_buyer().siren or ""))
    return SimpleUploadedFile("bodacc.jsonl", content, content_type="application/x-ndjson")


STUDY = "start a study, upload a buyer list, accept or decline a study"
REVIEW = "finalise studies, adjust lines"

ClaimStage = str  # declared, settled, computed, awaiting, approved, paid
CLAIM_STAGES = ("declared", "settled", "computed", "awaiting", "approved", "paid")


def alices_claim(objects: Objects, stage: ClaimStage) -> Any:
    """alice's claim (the seed case, no waiting period) taken by the handler to `stage`."""
    from claims import services as claim_services
    from tests.support.claims import covered_buyer, declared, no_waiting, recently_due, unpaid

    def build() -> Any:
        world = objects.world
        no_waiting(world.alice)
        claim = declared(
            world.alice,
            covered_buyer(world.alice),
            unpaid("F1", "100000", delivered=recently_due()),
        )
        handler = world.staff["claims_handler"]
        steps = CLAIM_STAGES[1 : CLAIM_STAGES.index(stage) + 1]
        with acting_as(handler):
            if "settled" in steps:
                claim_services.claim_primary_settle(
                    claim_id=claim.pk,
                    amount=Decimal("36000"),
                    settled_on=business_today(),
                    actor=handler,
                )
            if "computed" in steps:
                claim_services.claim_indemnity_compute(claim_id=claim.pk, actor=handler)
            if "awaiting" in steps:  # the handler has no authority amount: always above
                claim_services.claim_indemnity_approve(claim_id=claim.pk, actor=handler)
        admin = world.staff["admin"]
        with acting_as(admin):
            if "approved" in steps:
                claim_services.claim_indemnity_countersign(
                    claim_id=claim.pk, actor=admin, approve=True
                )
            if "paid" in steps:
                claim_services.claim_indemnity_pay(
                    claim_id=claim.pk, paid_on=business_today(), reference="VIR-1", actor=admin
                )
        return claim

    return objects._once(f"claim-{stage}", build)


def alices_thread(objects: Objects) -> Any:
    """A thread in alice's space, asked by her credit manager."""

    def build() -> Any:
        from conversations import services as conversation_services

        actor = objects.world.alice.credit_manager
        with acting_as(actor):
            return conversation_services.thread_start(
                policyholder=objects.world.alice.organisation,
                subject="Question",
                body="Pouvez-vous revoir la limite ?",
                actor=actor,
            )

    return objects._once("thread", build)


def _claim_action(
    action: str, stage: ClaimStage, payload: Callable[[Objects], dict[str, Any]] | None = None
) -> Write:
    row = APPROVE_INDEMNITY if action == "countersign" else HANDLE_CLAIMS
    return Write(
        "claim_action",
        row,
        lambda o, u: (
            reverse("claim_action", args=[alices_claim(o, stage).pk, action]),
            payload(o) if payload else {},
        ),
        variant=action,
    )


@dataclass(frozen=True)
class Write:
    """One POST: the route, the table row that governs it, and how to build it for alice."""

    route: str
    row: str
    build: Callable[[Objects, User], Call]
    api: bool = False
    variant: str = ""
    multipart: bool = False  # an API upload: multipart/form-data, not JSON

    @property
    def id(self) -> str:
        return f"{self.route}[{self.variant}]" if self.variant else self.route


def _request_figures(objects: Objects) -> dict[str, Any]:
    return {
        "exposure": "100000",
        "primary_amount": "40000",
        "requested_top_up": "30000",
        "credit_term_days": 60,
        "reason": "new_order",
    }


ACT = "ask for the largest top-up or submit a top-up request"


def _unpaid_json(number: str) -> dict[str, str]:
    """An unpaid invoice as the claims API takes it, due ten days ago."""
    from tests.support.claims import recently_due

    delivered = recently_due()
    due = delivered + timedelta(days=60)
    return {
        "number": number,
        "amount": "1000.00",
        "invoice_date": delivered.isoformat(),
        "delivery_date": delivered.isoformat(),
        "due_date": due.isoformat(),
    }


def _invoices_csv(number: str) -> SimpleUploadedFile:
    from tests.support.claims import recently_due

    delivered = recently_due()
    days = (delivered, delivered, delivered + timedelta(days=60))
    content = "numero;montant;date de facture;date de livraison;echeance\n" + ";".join(
        [number, "1000,00", *(day.strftime("%d/%m/%Y") for day in days)]
    )
    return SimpleUploadedFile("factures.csv", content.encode(), content_type="text/csv")


def _invoice_rows(number: str) -> dict[str, str]:
    """One unpaid invoice as the declaration page's formset posts it."""
    return {
        "invoices-TOTAL_FORMS": "1",
        "invoices-INITIAL_FORMS": "0",
        **{f"invoices-0-{key}": value for key, value in _unpaid_json(number).items()},
    }


def _bank_statement_token(number: str) -> str:
    """A bank statement as the import page carries it from its preview to its confirmation."""
    from billing.views import _statement_token

    today = business_today().strftime("%d/%m/%Y")
    return _statement_token(f"Date;Libellé;Montant\n{today};VIR {number};1,00\n".encode())


def _claim_pdf() -> SimpleUploadedFile:
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    return SimpleUploadedFile("facture.pdf", pdf, content_type="application/pdf")


WRITES: list[Write] = [
    # --- pages --------------------------------------------------------------------------------
    Write(
        "buyer_search",
        "look up or add a buyer",
        lambda o, u: (
            reverse("buyer_search", args=[o.contract.pk]),
            {"identifier": siren_for(987_654), "name": "Acheteur Nouveau"},
        ),
    ),
    Write(
        "primary_report",
        "report a primary limit",
        lambda o, u: (
            reverse("primary_report", args=[o.contract.pk, o.guarantee.buyer_id]),
            {"primary_amount": "50000", "effective_on": _today(), "note": "hausse"},
        ),
    ),
    Write(
        "request_new",
        ACT,
        lambda o, u: (
            reverse("request_new", args=[o.contract.pk, new_buyer().pk]),
            _request_figures(o),
        ),
    ),
    Write(
        "request_withdraw",
        "withdraw a request",
        lambda o, u: (
            reverse("request_withdraw", args=[o.open_request.pk]),
            {"reason": "plus besoin"},
        ),
    ),
    Write(
        "arbiter_request",
        "decide requests",
        lambda o, u: (
            reverse("arbiter_request", args=[o.open_request.pk]),
            {"outcome": "approved", "amount": "30000", "valid_from": _today()},
        ),
    ),
    Write(
        "request_assign",
        "assign a request to an arbiter",
        lambda o, u: (
            reverse("request_assign", args=[o.open_request.pk]),
            {"arbiter": o.world.staff["arbiter"].pk},
        ),
    ),
    Write(
        "request_countersign",
        "countersign above an authority",
        lambda o, u: (
            reverse("request_countersign", args=[o.awaiting_countersignature.pk]),
            {"approve": "yes", "note": "ok"},
        ),
    ),
    Write(
        "request_resume",
        "decide requests",
        lambda o, u: (reverse("request_resume", args=[o.held_request.pk]), {"note": "plan"}),
    ),
    Write(
        "monitoring_import",
        "import buyer-health data",
        lambda o, u: (reverse("monitoring_import"), {"kind": "bodacc", "file": _bodacc_file()}),
    ),
    Write(
        "buyer_insight_publish",
        INSIGHTS,
        lambda o, u: (
            reverse("buyer_insight_publish", args=[new_buyer().pk]),
            {"assessment": "Trésorerie tendue.", "outlook": "negative"},
        ),
    ),
    Write(
        "guarantee_change",
        "reduce or cancel a guarantee",
        lambda o, u: (
            reverse("guarantee_change", args=[o.guarantee.pk]),
            {"action": "reduce", "amount": "10000", "effective_on": _today(), "reason": "risque"},
        ),
        variant="reduce",
    ),
    Write(
        "guarantee_change",
        "reduce or cancel a guarantee",
        lambda o, u: (
            reverse("guarantee_change", args=[o.guarantee.pk]),
            {"action": "cancel", "effective_on": _today(), "reason": "risque"},
        ),
        variant="cancel",
    ),
    Write(
        "contract_end",
        "terminate or suspend a contract",
        lambda o, u: (
            reverse("contract_end", args=[o.contract.pk]),
            {"action": "terminate", "effective_on": _today(), "reason": "impayés"},
        ),
        variant="terminate",
    ),
    Write(
        "contract_end",
        "terminate or suspend a contract",
        lambda o, u: (
            reverse("contract_end", args=[o.contract.pk]),
            {"action": "suspend", "effective_on": _today(), "reason": "impayés"},
        ),
        variant="suspend",
    ),
    Write(
        "billing_run_create",
        "run billing",
        lambda o, u: (reverse("billing_run_create"), {"month": _last_month()}),
    ),
    Write(
        "credit_note_create",
        "issue credit notes",
        lambda o, u: (
            reverse("credit_note_create", args=[o.invoice.pk]),
            {"amount": "10.00", "reason": "geste commercial", "confirm": "1"},
        ),
    ),
    Write(
        "payment_create",
        "record payments",
        lambda o, u: (
            reverse("payment_create", args=[o.invoice.pk]),
            {"received_on": _today(), "amount": "1,00", "reference": "VIR 1"},
        ),
    ),
    Write(
        "bank_statement_import",
        "record payments",
        lambda o, u: (
            reverse("bank_statement_import"),
            {"statement": _bank_statement_token(o.invoice.number), "confirm": "1"},
        ),
    ),
    Write(
        "study_new",
        STUDY,
        lambda o, u: (reverse("study_new"), {"policyholder": str(o.world.alice.organisation.pk)}),
    ),
    Write(
        "study_new_prospect",
        "start a study for a prospect",
        lambda o, u: (
            reverse("study_new_prospect"),
            {
                "name": "Prospect SAS",
                "siren": "732 829 320",
                "contact_name": "Paula Prospect",
                "contact_email": "paula@prospect.test",
                "primary_insurer_name": "Coface",
                "primary_policy_number": "CF-1",
            },
        ),
    ),
    Write(
        "study_upload",
        STUDY,
        lambda o, u: (_study_url("study_upload", o, "draft"), {"file": _buyer_list()}),
    ),
    Write("study_submit", STUDY, lambda o, u: (_study_url("study_submit", o, "draft"), {})),
    Write(
        "study_line_adjust",
        REVIEW,
        lambda o, u: (
            _study_line_url("study_line_adjust", o),
            {"amount": "10 000,00", "reason": "note en baisse"},
        ),
    ),
    Write(
        "study_finalise", REVIEW, lambda o, u: (_study_url("study_finalise", o, "submitted"), {})
    ),
    Write(
        "study_countersign",
        "countersign above an authority",
        lambda o, u: (_study_url("study_countersign", o, "awaiting"), {"approve": "yes"}),
    ),
    Write("study_accept", STUDY, lambda o, u: (_study_url("study_accept", o, "finalised"), {})),
    Write(
        "study_decline",
        STUDY,
        lambda o, u: (_study_url("study_decline", o, "finalised"), {"note": "trop cher"}),
    ),
    # --- claims, the handler's back office (DESIGN §3: handle claims, record the primary's
    # settlement, compute and propose an indemnity; approve one above the handler's authority)
    _claim_action(
        "assign",
        "declared",
        lambda o: {"assign-handler": str(o.world.staff["claims_handler"].pk)},
    ),
    _claim_action("recovery_start", "declared"),
    _claim_action(
        "buyer_payment",
        "declared",
        lambda o: {"buyer_payment-amount": "1000", "buyer_payment-received_on": _today()},
    ),
    _claim_action("recovered", "declared"),
    _claim_action(
        "primary_settle",
        "declared",
        lambda o: {"primary_settle-amount": "36000", "primary_settle-settled_on": _today()},
    ),
    _claim_action(
        "primary_decline",
        "declared",
        lambda o: {"primary_decline-settled_on": _today(), "primary_decline-reason": "déchu"},
    ),
    _claim_action("decline", "declared", lambda o: {"decline-reason": "infondé"}),
    _claim_action("compute", "settled"),
    _claim_action("approve", "computed"),
    _claim_action("countersign", "awaiting", lambda o: {"countersign-approve": "yes"}),
    _claim_action("pay", "approved", lambda o: {"pay-paid_on": _today(), "pay-reference": "V-2"}),
    _claim_action(
        "recovery",
        "paid",
        lambda o: {"recovery-amount": "7200", "recovery-received_on": _today()},
    ),
    _claim_action("close", "paid"),
    # --- API ----------------------------------------------------------------------------------
    Write(
        "buyer-list",
        "look up or add a buyer",
        lambda o, u: (
            reverse("buyer-list"),
            {"identifier": siren_for(987_655), "name": "Acheteur API"},
        ),
        api=True,
    ),
    Write(
        "guarantee-request-list",
        ACT,
        lambda o, u: (
            reverse("guarantee-request-list"),
            {
                "contract": str(o.contract.pk),
                "buyer": str(new_buyer().pk),
                **_request_figures(o),
            },
        ),
        api=True,
    ),
    Write(
        "guarantee-request-limits",
        ACT,
        lambda o, u: (
            reverse("guarantee-request-limits"),
            {
                "contract": str(o.contract.pk),
                "buyer": str(o.guarantee.buyer_id),
                "exposure": "100000",
                "primary_amount": "40000",
                "credit_term_days": 60,
            },
        ),
        api=True,
    ),
    Write(
        "guarantee-request-withdraw",
        "withdraw a request",
        lambda o, u: (
            reverse("guarantee-request-withdraw", args=[o.open_request.pk]),
            {"reason": "plus besoin"},
        ),
        api=True,
    ),
    Write(
        "guarantee-request-decide",
        "decide requests",
        lambda o, u: (
            reverse("guarantee-request-decide", args=[o.open_request.pk]),
            {"outcome": "approved", "amount": "30000"},
        ),
        api=True,
    ),
    Write(
        "guarantee-request-countersign",
        "countersign above an authority",
        lambda o, u: (
            reverse("guarantee-request-countersign", args=[o.awaiting_countersignature.pk]),
            {"approve": True, "note": "ok"},
        ),
        api=True,
    ),
    Write(
        "guarantee-request-resume",
        "decide requests",
        lambda o, u: (
            reverse("guarantee-request-resume", args=[o.held_request.pk]),
            {"note": "plan"},
        ),
        api=True,
    ),
    Write(
        "guarantee-request-assign",
        "assign a request to an arbiter",
        lambda o, u: (
            reverse("guarantee-request-assign", args=[o.open_request.pk]),
            {"arbiter": o.world.staff["arbiter"].pk},
        ),
        api=True,
    ),
    Write(
        "guarantee-reduce",
        "reduce or cancel a guarantee",
        lambda o, u: (
            reverse("guarantee-reduce", args=[o.guarantee.pk]),
            {"amount": "10000", "effective_on": _today(), "reason": "risque"},
        ),
        api=True,
    ),
    Write(
        "guarantee-cancel",
        "reduce or cancel a guarantee",
        lambda o, u: (
            reverse("guarantee-cancel", args=[o.guarantee.pk]),
            {"effective_on": _today(), "reason": "risque"},
        ),
        api=True,
    ),
    Write(
        "guarantee-report-primary",
        "report a primary limit",
        lambda o, u: (
            reverse("guarantee-report-primary"),
            {
                "contract": str(o.contract.pk),
                "buyer": str(o.guarantee.buyer_id),
                "primary_amount": "50000",
                "effective_on": _today(),
            },
        ),
        api=True,
    ),
    Write(
        "invoice-credit-note",
        "issue credit notes",
        lambda o, u: (
            reverse("invoice-credit-note", args=[o.invoice.pk]),
            {"amount": "10.00", "reason": "geste commercial"},
        ),
        api=True,
    ),
    Write(
        "invoice-payments",
        "record payments",
        lambda o, u: (
            reverse("invoice-payments", args=[o.invoice.pk]),
            {"received_on": _today(), "amount": "1.00", "reference": "VIR API"},
        ),
        api=True,
    ),
    Write(
        "billingrun-list",
        "run billing",
        lambda o, u: (reverse("billingrun-list"), {"month": _last_month()}),
        api=True,
    ),
    Write(
        "contract-terminate",
        "terminate or suspend a contract",
        lambda o, u: (
            reverse("contract-terminate", args=[o.contract.pk]),
            {"effective_on": _today(), "reason": "impayés"},
        ),
        api=True,
    ),
    Write(
        "contract-suspend",
        "terminate or suspend a contract",
        lambda o, u: (
            reverse("contract-suspend", args=[o.contract.pk]),
            {"effective_on": _today(), "reason": "impayés"},
        ),
        api=True,
    ),
    # --- studies API ----------------------------------------------------------------------------
    Write(
        "study-list",
        STUDY,
        lambda o, u: (reverse("study-list"), {"contract": str(o.contract.pk)}),
        api=True,
    ),
    Write(
        "study-prospect",
        "start a study for a prospect",
        lambda o, u: (
            reverse("study-prospect"),
            {
                "name": "Prospect SAS",
                "siren": siren_for(987_656),
                "contact_name": "Camille Durand",
                "contact_email": "camille@prospect.test",
                "primary_insurer_name": "Coface",
                "primary_policy_number": "CF-1",
            },
        ),
        api=True,
    ),
    Write(
        "study-upload",
        STUDY,
        lambda o, u: (
            _study_url("study-upload", o, "draft"),
            {"file": _buyer_list()},
        ),
        api=True,
        multipart=True,
    ),
    Write(
        "study-submit",
        STUDY,
        lambda o, u: (_study_url("study-submit", o, "draft"), {}),
        api=True,
    ),
    Write(
        "study-line-adjust",
        REVIEW,
        lambda o, u: (
            _study_line_url("study-line-adjust", o),
            {"amount": "10000", "reason": "risque"},
        ),
        api=True,
    ),
    Write(
        "study-finalise",
        REVIEW,
        lambda o, u: (_study_url("study-finalise", o, "submitted"), {}),
        api=True,
    ),
    Write(
        "study-countersign",
        "countersign above an authority",
        lambda o, u: (
            _study_url("study-countersign", o, "awaiting"),
            {"approve": True, "note": "ok"},
        ),
        api=True,
    ),
    Write(
        "study-accept",
        STUDY,
        lambda o, u: (_study_url("study-accept", o, "finalised"), {}),
        api=True,
    ),
    Write(
        "study-decline",
        STUDY,
        lambda o, u: (
            _study_url("study-decline", o, "finalised"),
            {"note": "trop cher"},
        ),
        api=True,
    ),
    # --- monitoring API -------------------------------------------------------------------------
    Write(
        "insight-list",
        INSIGHTS,
        lambda o, u: (
            reverse("insight-list"),
            {"buyer": str(new_buyer().pk), "assessment": "Trésorerie tendue.", "outlook": "stable"},
        ),
        api=True,
    ),
    Write(
        "health-file-list",
        "import buyer-health data",
        lambda o, u: (reverse("health-file-list"), {"kind": "bodacc", "file": _bodacc_file()}),
        api=True,
        multipart=True,
    ),
    # --- claims API -----------------------------------------------------------------------------
    Write(
        "claim-list",
        DECLARE_CLAIMS,
        lambda o, u: (
            reverse("claim-list"),
            {
                "contract": str(o.contract.pk),
                "buyer": str(new_buyer().pk),
                "invoices": [_unpaid_json("F-API-1")],
            },
        ),
        api=True,
    ),
    Write(
        "claim-invoices",
        DECLARE_CLAIMS,
        lambda o, u: (
            reverse("claim-invoices", args=[alices_claim(o, "declared").pk]),
            {"invoices": [_unpaid_json("F-API-2")]},
        ),
        api=True,
    ),
    Write(
        "claim-invoices-upload",
        DECLARE_CLAIMS,
        lambda o, u: (
            reverse("claim-invoices-upload", args=[alices_claim(o, "declared").pk]),
            {"file": _invoices_csv("F-API-3")},
        ),
        api=True,
        multipart=True,
    ),
    Write(
        "claim-documents",
        CLAIM_DOCUMENTS,
        lambda o, u: (
            reverse("claim-documents", args=[alices_claim(o, "declared").pk]),
            {"file": _claim_pdf()},
        ),
        api=True,
        multipart=True,
    ),
    # --- the organisation's two-factor requirement -------------------------------------------
    Write(
        "organisation_two_factor",
        TWO_FACTOR_POLICY,
        lambda o, u: (reverse("organisation_two_factor"), {"two_factor_required": "on"}),
    ),
    # --- conversations --------------------------------------------------------------------------
    Write(
        "thread_new",
        CONVERSE,
        lambda o, u: (
            reverse("thread_new"),
            {"policyholder": str(o.world.alice.organisation.pk), "subject": "Q", "body": "?"},
        ),
    ),
    Write(
        "message_new",
        CONVERSE,
        lambda o, u: (reverse("message_new", args=[alices_thread(o).pk]), {"body": "Réponse"}),
    ),
    Write(
        "thread_join",
        JOIN_THREADS,
        lambda o, u: (reverse("thread_join", args=[alices_thread(o).pk]), {}),
    ),
    Write(
        "client_arbiter",
        ASSIGN_ARBITERS,
        lambda o, u: (
            reverse("client_arbiter", args=[o.world.alice.organisation.pk]),
            {"action": "assign", "assign-arbiter": o.world.staff["senior_arbiter"].pk},
        ),
    ),
    Write(
        "thread-list",
        CONVERSE,
        lambda o, u: (
            reverse("thread-list"),
            {"policyholder": str(o.world.alice.organisation.pk), "subject": "Q", "body": "?"},
        ),
        api=True,
    ),
    Write(
        "thread-messages",
        CONVERSE,
        lambda o, u: (reverse("thread-messages", args=[alices_thread(o).pk]), {"body": "Réponse"}),
        api=True,
    ),
    # --- claims, the policyholder's pages -------------------------------------------------------
    Write(
        "claim_new",
        DECLARE_CLAIMS,
        lambda o, u: (
            reverse("claim_new"),
            {
                # A broker names its client; a policyholder's user declares for its own.
                "policyholder": str(o.world.alice.organisation.pk),
                "buyer": str(new_buyer().pk),
                **_invoice_rows("F-PAGE-1"),
            },
        ),
    ),
    Write(
        "claim_invoices_add",
        DECLARE_CLAIMS,
        lambda o, u: (
            reverse("claim_invoices_add", args=[alices_claim(o, "declared").pk]),
            _invoice_rows("F-PAGE-2"),
        ),
    ),
    Write(
        "claim_invoices_upload",
        DECLARE_CLAIMS,
        lambda o, u: (
            reverse("claim_invoices_upload", args=[alices_claim(o, "declared").pk]),
            {"file": _invoices_csv("F-PAGE-3")},
        ),
    ),
    Write(
        "claim_document_add",
        DECLARE_CLAIMS,
        lambda o, u: (
            reverse("claim_document_add", args=[alices_claim(o, "declared").pk]),
            {"file": _claim_pdf()},
        ),
    ),
]

# Known disagreements between the application and DESIGN §3: (route id, role) -> reason.
# Each is a strict xfail, so fixing the application turns it into a failure to remove here.
KNOWN_DISAGREEMENTS: dict[tuple[str, str], str] = {}


def test_every_post_route_is_mapped_to_a_row_of_the_table() -> None:
    mapped = {write.route for write in WRITES}
    unmapped = post_routes() - mapped - NOT_BUSINESS_ACTIONS - READ_PAGES_IGNORING_POST
    assert unmapped == set(), (
        "These routes accept POST but no row of DESIGN §3 governs them here: add them to WRITES "
        "(or, if they write nothing, to NOT_BUSINESS_ACTIONS / READ_PAGES_IGNORING_POST)."
    )
    stale = (mapped | NOT_BUSINESS_ACTIONS | READ_PAGES_IGNORING_POST) - post_routes()
    assert stale == set(), "Routes listed here no longer accept POST (or no longer exist)."
    assert {write.row for write in WRITES} <= set(TABLE)


def _fingerprint(world: World) -> dict[str, Any]:
    """What a refused write must leave untouched."""
    from billing.models import BillingRun, Invoice, Payment
    from claims.models import Claim, ClaimMovement
    from conversations.models import ArbiterAssignment, Message, ThreadMember

    with insurer_scope():
        return {
            # A sign-in is recorded (security.*) whatever the user then tries: not a write.
            "audit": AuditEvent.objects.exclude(action__startswith="security.").count(),
            "buyers": Buyer.objects.count(),
            "requests": sorted(
                (str(r.pk), r.status, r.assigned_to_id) for r in GuaranteeRequest.objects.all()
            ),
            "guarantees": Guarantee.objects.count(),
            "pending": sorted((str(p.pk), p.state) for p in PendingDecision.objects.all()),
            "invoices": Invoice.objects.count(),
            "payments": Payment.objects.count(),
            "runs": BillingRun.objects.count(),
            "contracts": sorted(
                (str(c.pk), c.status, str(c.ends_on)) for c in Contract.objects.all()
            ),
            "claims": sorted((str(c.pk), c.status, c.handler_id) for c in Claim.objects.all()),
            "claim_movements": ClaimMovement.objects.count(),
            "messages": Message.objects.count(),
            "thread_members": ThreadMember.objects.count(),
            "assignments": ArbiterAssignment.objects.count(),
        }


def _cases() -> Iterator[Any]:
    for write in WRITES:
        for role in ROLES:
            marks = []
            reason = KNOWN_DISAGREEMENTS.get((write.id, role))
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            yield pytest.param(write, role, id=f"{write.id}-{role}", marks=marks)


def _post(write: Write, user: User, url: str, payload: dict[str, Any]) -> Any:
    if write.api:
        client: Client = token_client(user)
        if write.multipart:
            return client.post(url, payload)
        return client.post(url, payload, content_type="application/json")
    return client_for(user).post(url, payload)


ALLOWED_OUTCOMES = {200, 201, 202, 204, 302, 400, 409}


@pytest.mark.parametrize(("write", "role"), list(_cases()))
def test_every_write_endpoint_answers_each_role_as_the_table_says(
    world: World, write: Write, role: str
) -> None:
    user = user_for(world, role)
    objects = Objects(world)
    url, payload = write.build(objects, user)
    before = _fingerprint(world)
    response = _post(write, user, url, payload)
    status = response.status_code
    outcome = f"{role} POST {url} ({write.id}) -> {status}"
    if role in TABLE[write.row].roles:
        assert status in ALLOWED_OUTCOMES, outcome
        if status == 302:
            assert "/login/" not in response["Location"], outcome
        return
    refused = {403, 404}
    if role == "inactive":
        # An inactive user has no session (the page sends it to sign in) and its token fails.
        refused |= {401} if write.api else set()
        if not write.api and status == 302:
            assert "/login/" in response["Location"], outcome
            refused.add(302)
    assert status in refused, outcome
    assert _fingerprint(world) == before, f"{outcome}: the database changed"


# --- 3. pages gated by the table answer GET as it says ------------------------------------------

GATED_PAGES: dict[str, str] = {
    "queue": "work the arbiter queue",
    "backoffice": "open the back office",
    "finance_home": "run billing",
    "billing_home": "run billing",
    "invoice_list": "see invoices, download PDFs",
    "invoice_export": "see invoices, download PDFs",
    "bank_statement_import": "record payments",
    "claim_queue": "read claims in the back office",
    "claim_export": "read claims in the back office",
    "monitoring": "watch the portfolio",
    "monitoring_import": "import buyer-health data",
    "inbox": "work the arbiter queue",
    "security_audit": SECURITY_AUDIT,
    "security_audit_export": SECURITY_AUDIT,
}


@pytest.mark.parametrize("page", sorted(GATED_PAGES))
def test_gated_pages_open_for_the_roles_of_their_row_only(world: World, page: str) -> None:
    url = reverse(page)
    wrong = {}
    for role in ROLES:
        if role == "inactive":
            continue  # no session: covered by the sign-in tests
        status = client_for(user_for(world, role)).get(url).status_code
        expected = 200 if role in TABLE[GATED_PAGES[page]].roles else 404
        if status != expected:
            wrong[role] = (status, expected)
    assert wrong == {}, f"{url}: role -> (status, expected)"


def test_a_refused_write_leaves_no_trace_even_with_a_valid_payload(world: World) -> None:
    """The fingerprint sees a real write: an allowed decision changes it."""
    objects = Objects(world)
    request = objects.open_request
    before = _fingerprint(world)
    response = token_client(world.staff["senior_arbiter"]).post(
        reverse("guarantee-request-decide", args=[request.pk]),
        {"outcome": "approved", "amount": str(Decimal("30000"))},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert _fingerprint(world) != before

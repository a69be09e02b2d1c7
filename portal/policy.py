"""Who may do what: the table of DESIGN §3, in one place.

Services enforce these answers (a refused action raises `Forbidden`), and views, templates
(through the `may` context variable) and the API ask them what to show. *Which* rows a user
sees is the tenant scope's business (`portal.tenancy`); this module answers what the user may
do with what they see. Insurer admins may do everything an insurer role may.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import cached_property

from portal.errors import Forbidden
from portal.models import OrganisationKind, Role, User

# The role sets of DESIGN §3. Insurer admin is added to every insurer set.
POLICYHOLDER_ACTORS = frozenset({Role.CREDIT_MANAGER, Role.ORG_ADMIN})
POLICYHOLDER_FINANCE = frozenset({Role.FINANCE, Role.ORG_ADMIN})
DECIDERS = frozenset({Role.ARBITER, Role.SENIOR_ARBITER, Role.ADMIN})
COUNTERSIGNERS = frozenset({Role.SENIOR_ARBITER, Role.ADMIN})
INSURER_FINANCE = frozenset({Role.FINANCE_OPS, Role.ADMIN})
BACKOFFICE = frozenset({Role.ARBITER, Role.SENIOR_ARBITER, Role.CLAIMS_HANDLER, Role.ADMIN})
INSURER_ADMINS = frozenset({Role.ADMIN})
CLAIMS_HANDLERS = frozenset({Role.CLAIMS_HANDLER, Role.ADMIN})
# Who a request can be assigned to, and who hears of a cover change on the policyholder side.
ASSIGNABLE_ARBITERS = frozenset({Role.ARBITER, Role.SENIOR_ARBITER})


def _kind(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    organisation = user.organisation
    return organisation.kind if organisation is not None else None


def _insurer(user: Any, roles: frozenset[str]) -> bool:
    return _kind(user) == OrganisationKind.INSURER and user.role in roles


def _policyholder(user: Any, roles: frozenset[str]) -> bool:
    return _kind(user) == OrganisationKind.POLICYHOLDER and user.role in roles


def _broker(user: Any) -> bool:
    # The scope holds only the policyholders of the broker's current mandates.
    return _kind(user) == OrganisationKind.BROKER and user.role == Role.BROKER


# --- policyholder side ----------------------------------------------------------------------


def is_policyholder_user(user: Any) -> bool:
    return _kind(user) == OrganisationKind.POLICYHOLDER


def is_broker_user(user: Any) -> bool:
    return _broker(user)


def can_see_cover(user: Any) -> bool:
    """Contracts, requests, decisions' messages, guarantees, alerts (within the scope)."""
    return _kind(user) is not None


def can_see_alert_feed(user: Any) -> bool:
    """A policyholder's alert feed and the buyers it watches: its users and its brokers
    (insurer staff watch the whole portfolio from the monitoring page instead)."""
    return is_policyholder_user(user) or _broker(user)


def can_act_for_policyholder(user: Any) -> bool:
    """Look up or add a buyer, ask for the largest top-up, submit or withdraw a request,
    report a primary limit."""
    return _policyholder(user, POLICYHOLDER_ACTORS) or _broker(user)


can_request_top_up = can_act_for_policyholder
can_look_up_buyers = can_act_for_policyholder
# Start a study, upload a buyer list, accept or decline a study (a broker also for its prospects:
# a prospect is a policyholder its mandate covers).
can_work_on_studies = can_act_for_policyholder
can_withdraw_request = can_act_for_policyholder
can_report_primary = can_act_for_policyholder


# Declare a claim, add invoices and documents.
can_declare_claims = can_act_for_policyholder


def can_see_invoices(user: Any) -> bool:
    return (
        _policyholder(user, POLICYHOLDER_FINANCE)
        or _broker(user)
        or _insurer(user, INSURER_FINANCE)
    )


def can_use_conversations(user: Any) -> bool:
    """Read and write in a policyholder's conversation space: its users, its brokers with a
    current mandate (the scope), and insurer staff; which threads an insurer member may open is
    `conversations.selectors.thread_for` (the dedicated arbiter, its stand-in, who joined)."""
    return _kind(user) is not None


def can_join_threads(user: Any) -> bool:
    """Insurer staff join a client's thread to read and write in it."""
    return is_insurer_staff(user)


def can_assign_arbiters(user: Any) -> bool:
    """Reassign a client's dedicated arbiter, set a stand-in: insurer admin (DESIGN §3)."""
    return _insurer(user, INSURER_ADMINS)


# --- insurer side ---------------------------------------------------------------------------


def is_insurer_staff(user: Any) -> bool:
    return _kind(user) == OrganisationKind.INSURER


def can_read_internal_notes(user: Any) -> bool:
    """Decisions' internal notes never leave the insurer."""
    return is_insurer_staff(user)


def can_see_backoffice(user: Any) -> bool:
    return _insurer(user, BACKOFFICE)


def can_see_queue(user: Any) -> bool:
    """The arbiter queue, request files and buyer risk files."""
    return _insurer(user, DECIDERS)


def can_see_inbox(user: Any) -> bool:
    """The arbiter's inbox across their clients."""
    return _insurer(user, DECIDERS)


def can_decide(user: Any) -> bool:
    return _insurer(user, DECIDERS)


can_assign_requests = can_decide
can_change_guarantees = can_decide
can_finalise_studies = can_decide
# Resume a request held for collective proceedings (or refuse it: a decision).
can_resume_requests = can_decide


def can_import_health_data(user: Any) -> bool:
    """Import buyer-health data (BODACC notices, grades): arbiter, senior arbiter, admin."""
    return _insurer(user, DECIDERS)


def can_publish_insights(user: Any) -> bool:
    """Publish an insight on a buyer (seen by exposed policyholders only): arbiter, senior
    arbiter, insurer admin."""
    return _insurer(user, DECIDERS)


# The arbiters' monitoring page: latest events, buyers that moved, exposure at stake, imports.
can_watch_portfolio = can_see_queue


def can_countersign(user: Any, *, proposed_by_id: Any = None) -> bool:
    """A senior arbiter countersigns, never their own proposal."""
    if not _insurer(user, COUNTERSIGNERS):
        return False
    return proposed_by_id is None or proposed_by_id != user.pk


def decides_without_countersignature(user: Any) -> bool:
    return _insurer(user, COUNTERSIGNERS)


def can_handle_claims(user: Any) -> bool:
    """Handle claims, record the primary's settlement, compute and propose an indemnity."""
    return _insurer(user, CLAIMS_HANDLERS)


# The claims queue and claim files, read-only for the insurer roles that do not handle claims.
can_read_claims_backoffice = is_insurer_staff


def can_countersign_indemnity(user: Any, *, proposed_by_id: Any = None) -> bool:
    """Approve an indemnity above the handler's authority: a senior arbiter or an insurer
    admin, never one's own proposal."""
    if not _insurer(user, COUNTERSIGNERS):
        return False
    return proposed_by_id is None or proposed_by_id != user.pk


def approves_indemnity_without_countersignature(user: Any) -> bool:
    return _insurer(user, INSURER_ADMINS)


def can_run_billing(user: Any) -> bool:
    return _insurer(user, INSURER_FINANCE)


can_issue_credit_note = can_run_billing
can_record_payments = can_run_billing


def can_manage_contracts(user: Any) -> bool:
    """Contracts, users, authority amounts: the insurer admin."""
    return _insurer(user, INSURER_ADMINS)


def can_use_admin_site(user: Any) -> bool:
    return can_manage_contracts(user) and bool(user.is_staff)


def can_read_security_audit(user: Any) -> bool:
    """Sign-ins, failures, 2FA, tokens, sessions, roles and mandates of every user: the insurer
    admin (issue 12)."""
    return _insurer(user, INSURER_ADMINS)


# --- two-factor sign-in ---------------------------------------------------------------------


def two_factor_required(user: Any) -> bool:
    """Every insurer user signs in with a second factor; so does every user of an organisation
    that requires it."""
    if _kind(user) is None:
        return False
    organisation = user.organisation
    return bool(organisation.is_insurer or organisation.two_factor_required)


def can_set_two_factor_policy(user: Any, organisation: Any) -> bool:
    """Require 2FA of an organisation's users: its own admin (a policyholder's org admin,
    DESIGN §3 "manage the organisation's users and 2FA policy"), or the insurer admin for any
    organisation (from the Django admin)."""
    if _insurer(user, INSURER_ADMINS):
        return True
    return _policyholder(user, frozenset({Role.ORG_ADMIN})) and (
        user.organisation_id == getattr(organisation, "pk", None)
    )


def can_manage_own_two_factor_policy(user: Any) -> bool:
    """The organisation's two-factor page: the admin of a policyholder (brokers have no admin
    role; the insurer admin sets theirs in the Django admin)."""
    return _policyholder(user, frozenset({Role.ORG_ADMIN}))


# --- enforcement and display ----------------------------------------------------------------


def require(allowed: bool) -> None:
    """Services call this: a refused action is a domain error (403 at the API edge)."""
    if not allowed:
        raise Forbidden()


def page_requires(
    check: Callable[[Any], bool],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A page a user may not use answers 404, like a missing object."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class May:
    """What templates ask: `{% if may.request_top_up %}`. Each answer is computed once."""

    def __init__(self, user: User | Any) -> None:
        self.user = user

    @cached_property
    def request_top_up(self) -> bool:
        return can_request_top_up(self.user)

    @cached_property
    def work_on_studies(self) -> bool:
        return can_work_on_studies(self.user)

    @cached_property
    def finalise_studies(self) -> bool:
        return can_finalise_studies(self.user)

    @cached_property
    def countersign(self) -> bool:
        return can_countersign(self.user)

    @cached_property
    def see_invoices(self) -> bool:
        return can_see_invoices(self.user)

    @cached_property
    def see_backoffice(self) -> bool:
        return can_see_backoffice(self.user)

    @cached_property
    def see_queue(self) -> bool:
        return can_see_queue(self.user)

    @cached_property
    def decide(self) -> bool:
        return can_decide(self.user)

    @cached_property
    def change_guarantees(self) -> bool:
        return can_change_guarantees(self.user)

    @cached_property
    def resume_requests(self) -> bool:
        return can_resume_requests(self.user)

    @cached_property
    def import_health_data(self) -> bool:
        return can_import_health_data(self.user)

    @cached_property
    def publish_insights(self) -> bool:
        return can_publish_insights(self.user)

    @cached_property
    def see_alert_feed(self) -> bool:
        return can_see_alert_feed(self.user)

    @cached_property
    def watch_portfolio(self) -> bool:
        return can_watch_portfolio(self.user)

    @cached_property
    def declare_claims(self) -> bool:
        return can_declare_claims(self.user)

    @cached_property
    def read_claims_backoffice(self) -> bool:
        return can_read_claims_backoffice(self.user)

    @cached_property
    def handle_claims(self) -> bool:
        return can_handle_claims(self.user)

    @cached_property
    def countersign_indemnity(self) -> bool:
        return can_countersign_indemnity(self.user)

    @cached_property
    def use_conversations(self) -> bool:
        return can_use_conversations(self.user)

    @cached_property
    def see_inbox(self) -> bool:
        return can_see_inbox(self.user)

    @cached_property
    def assign_arbiters(self) -> bool:
        return can_assign_arbiters(self.user)

    @cached_property
    def run_billing(self) -> bool:
        return can_run_billing(self.user)

    @cached_property
    def issue_credit_note(self) -> bool:
        return can_issue_credit_note(self.user)

    @cached_property
    def record_payments(self) -> bool:
        return can_record_payments(self.user)

    @cached_property
    def manage_contracts(self) -> bool:
        return can_manage_contracts(self.user)

    @cached_property
    def read_internal_notes(self) -> bool:
        return can_read_internal_notes(self.user)

    @cached_property
    def use_admin_site(self) -> bool:
        return can_use_admin_site(self.user)

    @cached_property
    def read_security_audit(self) -> bool:
        return can_read_security_audit(self.user)

    @cached_property
    def manage_two_factor_policy(self) -> bool:
        return can_manage_own_two_factor_policy(self.user)


def role_home(user: User) -> str:
    """The URL name of the home page of `user`'s role."""
    kind = _kind(user)
    if kind == OrganisationKind.POLICYHOLDER:
        return "dashboard"
    if kind == OrganisationKind.BROKER:
        return "broker_clients"
    if can_run_billing(user) and not can_see_backoffice(user):
        return "finance_home"
    if can_see_backoffice(user):
        return "backoffice"
    return "no_organisation"

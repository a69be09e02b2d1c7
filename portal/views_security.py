"""A user's own browser sessions (list, end one, sign out everywhere) and the insurer admin's
security audit (filters in the URL, pagination, CSV of exactly what is filtered)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal import policy
from portal.devices import device_label
from portal.http import is_htmx, page_user
from portal.models import AuditEvent
from portal.security_audit import (
    AuditRow,
    SecurityAuditFilterForm,
    audit_csv_response,
    audit_rows,
    security_events,
)
from portal.sessions import REVOKED_CURRENT, active_sessions, session_revoke, sessions_end_all
from portal.timeutils import business_today

AUDIT_PAGE_SIZE = 50
END_ALL, END_OTHERS = "all", "others"


# --- the user's own sessions --------------------------------------------------------------------


@login_required
@require_GET
def account_sessions(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    current = request.session.session_key
    sessions = [
        {
            "session": row,
            "device": device_label(row.user_agent),
            "current": row.session_key == current,
        }
        for row in active_sessions(user=user)
    ]
    return render(
        request,
        "portal/sessions.html",
        {"sessions": sessions, "others": sum(1 for entry in sessions if not entry["current"])},
    )


@login_required
@require_POST
def account_session_revoke(request: HttpRequest, session_id: UUID) -> HttpResponse:
    revoked = session_revoke(user=page_user(request), session_id=session_id, request=request)
    if not revoked:
        raise Http404
    if revoked == REVOKED_CURRENT:
        messages.success(request, _("Cette session est fermée. Reconnectez-vous pour continuer."))
        return redirect("login")
    messages.success(request, _("La session est fermée : cet appareil devra se reconnecter."))
    return redirect("account_sessions")


@login_required
@require_POST
def account_sessions_end(request: HttpRequest) -> HttpResponse:
    """Sign out everywhere (this browser too), or everywhere else. API tokens are untouched."""
    user = page_user(request)
    scope = request.POST.get("scope", END_ALL)
    if scope not in (END_ALL, END_OTHERS):
        messages.error(request, _("Choisissez de fermer toutes les sessions ou les autres."))
        return redirect("account_sessions")
    ended = sessions_end_all(user=user, request=request, keep_current=scope == END_OTHERS)
    if scope == END_OTHERS:
        messages.success(
            request,
            _("%(count)s autre(s) session(s) fermée(s). Celle-ci reste ouverte.")
            % {"count": ended},
        )
        return redirect("account_sessions")
    messages.success(request, _("Vous êtes déconnecté de tous vos appareils."))
    return redirect("login")


# --- the insurer admin's security audit -----------------------------------------------------------

audit_readers = policy.page_requires(policy.can_read_security_audit)


def _filtered(
    request: HttpRequest,
) -> tuple[SecurityAuditFilterForm, QuerySet[AuditEvent] | None]:
    form = SecurityAuditFilterForm(request.GET)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    events = security_events(
        kind=data["kind"],
        q=data["q"].strip(),
        organisation=data["organisation"],
        date_from=data["date_from"],
        date_to=data["date_to"],
    )
    return form, events


@audit_readers
@require_GET
def security_audit(request: HttpRequest) -> HttpResponse:
    form, events = _filtered(request)
    page: Page[AuditEvent] | None = None
    rows: list[AuditRow] = []
    if events is not None:
        page = Paginator(events, AUDIT_PAGE_SIZE).get_page(form.cleaned_data["page"] or 1)
        rows = audit_rows(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portal/_security_audit_table.html" if is_htmx(request) else "portal/security_audit.html",
        {"form": form, "page": page, "rows": rows, "query": query.urlencode()},
    )


@audit_readers
@require_GET
def security_audit_export(request: HttpRequest) -> HttpResponse:
    """Exactly the events the page's filters select (every page); bad filters export none."""
    _form, events = _filtered(request)
    rows = audit_rows(events) if events is not None else []
    filename = f"evenements-securite-{business_today():%Y-%m-%d}.csv"
    return audit_csv_response(rows, filename=filename)

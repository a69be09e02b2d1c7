"""Home pages per role, the policyholder overview, notifications, the health check and the
password reset request."""

from __future__ import annotations

import redis
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from knox.models import AuthToken

from monitoring import selectors as monitoring_selectors
from portal import dashboards, policy, selectors, services, tables
from portal.charts import cover_chart
from portal.http import page_user
from portal.listing import ListPage, export_response
from portal.models import Notification
from portal.password_reset import password_reset_request
from portal.policy import page_requires, role_home
from portal.security import SecurityEvent, security_event_record
from portal.timeutils import business_today
from underwriting.models import Contract, ContractStatus


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(role_home(page_user(request)))


class PasswordResetRequestView(auth_views.PasswordResetView):
    """Django's reset form, whose e-mail leaves from a task: the same answer, at once, whether
    the address is known, unknown or throttled."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        password_reset_request(
            email=form.cleaned_data["email"],
            ip=get_client_ip_address(self.request) or "unknown",
        )
        # The same row whatever the address: no account, no address (the audit must not tell
        # whether one exists either), only where the request came from.
        security_event_record(
            action=SecurityEvent.PASSWORD_RESET_REQUESTED, user=None, request=self.request
        )
        return HttpResponseRedirect(self.get_success_url())


@login_required
def no_organisation(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/no_organisation.html", status=403)


CONTRACTS_SHOWN = 5


@page_requires(policy.is_policyholder_user)
def dashboard(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    organisation = user.organisation
    assert organisation is not None  # a policyholder user always has one
    ids = [organisation.pk]
    today = business_today()
    # The contracts not terminated (one at a time, as a rule); the policyholder's page lists
    # them all.
    contracts = list(
        Contract.objects.filter(policyholder=organisation)
        .exclude(status=ContractStatus.TERMINATED)
        .order_by("-starts_on", "number")[:CONTRACTS_SHOWN]
    )
    history = dashboards.cover_history(policyholder_ids=ids, today=today)
    context = {
        "organisation": organisation,
        "contracts": contracts,
        "active_contract": next((c for c in contracts if c.status == "active"), None),
        "figures": dashboards.policyholder_figures(policyholder_ids=ids, on=today)[organisation.pk],
        "ending": dashboards.top_ups_ending(policyholder_ids=ids, on=today),
        "uncovered": dashboards.largest_uncovered(policyholder_ids=ids, on=today),
        "decisions": dashboards.recent_decisions(policyholder_ids=ids),
        "alerts": dashboards.recent_alerts(policyholder_id=organisation.pk),
        "history": history,
        "chart": cover_chart(history, title=_("Couverture en vigueur sur 12 mois")),
        "invoices": dashboards.invoice_figures(policyholder_ids=ids)
        if policy.can_see_invoices(user)
        else None,
        "today": today,
    }
    return render(request, "portal/dashboard.html", context)


@page_requires(policy.is_broker_user)
def broker_clients(request: HttpRequest) -> HttpResponse:
    today = business_today()
    policyholders = list(selectors.visible_policyholders().order_by("name"))
    ids = [policyholder.pk for policyholder in policyholders]
    figures = dashboards.policyholder_figures(policyholder_ids=ids, on=today)
    contracts = monitoring_selectors.active_contract_ids(ids)
    rows = [
        {
            "policyholder": policyholder,
            "figures": figures[policyholder.pk],
            "contract_id": contracts.get(policyholder.pk),
        }
        for policyholder in policyholders
    ]
    total = sum((figures[pk].cover for pk in ids), dashboards.Cover())
    return render(
        request,
        "portal/broker_clients.html",
        {
            "rows": rows,
            "total": total,
            "studies": dashboards.studies_in_progress(),
        },
    )


@page_requires(policy.can_see_backoffice)
def backoffice(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    policyholders = selectors.policyholders_for_backoffice(user=user)
    context: dict[str, object] = {"policyholders": policyholders}
    if policy.can_see_queue(user):
        countersigns = policy.can_countersign(user)
        context |= {
            "counts": dashboards.queue_counts(
                user=user, now=timezone.now(), countersigns=countersigns
            ),
            "to_countersign": dashboards.awaiting_countersignature(user=user)[:10]
            if countersigns
            else [],
            "exposures": dashboards.largest_exposures(on=business_today()),
        }
    return render(request, "portal/backoffice.html", context)


@page_requires(policy.can_run_billing)
def finance_home(request: HttpRequest) -> HttpResponse:
    """The month's premium and its 12-month trend, the last billing runs, the invoices unpaid
    and overdue (issue 14)."""
    from billing.home import finance_home_context

    return render(request, "portal/finance_home.html", finance_home_context())


@login_required
def policyholder_detail(request: HttpRequest, policyholder_id: str) -> HttpResponse:
    policyholder = get_object_or_404(selectors.visible_policyholders(), pk=policyholder_id)
    contracts = Contract.objects.filter(policyholder=policyholder)
    return render(
        request,
        "portal/policyholder_detail.html",
        {"policyholder": policyholder, "contracts": contracts},
    )


@login_required
def contract_detail(request: HttpRequest, contract_id: str) -> HttpResponse:
    from underwriting.forms import ContractEndForm

    contract = get_object_or_404(Contract.objects.select_related("policyholder"), pk=contract_id)
    end_form = None
    if policy.can_manage_contracts(request.user) and contract.status in ("active", "suspended"):
        end_form = ContractEndForm()
    return render(
        request, "portal/contract_detail.html", {"contract": contract, "end_form": end_form}
    )


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    page = ListPage(
        request,
        queryset=selectors.notifications_listed(user=user),
        table_class=tables.NotificationTable,
        filterset_class=tables.NotificationFilterSet,
    )
    exported = export_response(page, name="notifications")
    if exported is not None:
        return exported
    context = page.context()
    # What the page shows is read (one UPDATE); the list still marks it as new this time.
    shown = [row.record for row in page.table.page.object_list]
    unread = [notification.pk for notification in shown if notification.read_at is None]
    if unread:
        Notification.objects.filter(pk__in=unread, recipient=user).update(read_at=timezone.now())
    return render(request, "portal/notifications.html", context)


@login_required
@require_GET
def account_tokens(request: HttpRequest) -> HttpResponse:
    """The user's own API tokens (created, expiry, a short prefix: never the key)."""
    user = page_user(request)
    tokens = AuthToken.objects.filter(user=user).order_by("-created")
    return render(request, "portal/tokens.html", {"tokens": tokens})


@login_required
@require_POST
def account_token_revoke(request: HttpRequest, token_key: str) -> HttpResponse:
    if not services.api_token_revoke(user=page_user(request), token_key=token_key, request=request):
        raise Http404
    return redirect("account_tokens")


@login_required
@require_POST
def account_tokens_revoke_all(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    services.api_tokens_revoke_all(user_id=user.pk, request=request, actor=user)
    return redirect("account_tokens")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when PostgreSQL and the Celery broker answer, 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means "not healthy"
        checks["database"] = f"error: {type(error).__name__}"
    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2
        )
        client.ping()
        client.close()
        checks["broker"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["broker"] = f"error: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


def bare_json(request: HttpRequest) -> JsonResponse:
    """The yardstick for benchmarks: a Django view that touches nothing."""
    return JsonResponse({"ok": True})

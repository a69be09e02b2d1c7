"""The insurer admin's security audit: the `security.*` events, filtered from the URL, shown as
rows a person reads (who, what, when, from where, details) and exported as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.devices import device_label
from portal.models import AuditEvent, Organisation, Role, User
from portal.security import PREFIX, SecurityEvent

# Dates outside these years are typing mistakes (and 9999-12-31 has no next day).
FIRST_YEAR, LAST_YEAR = 2000, 2100
DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]
LABELS = dict(SecurityEvent.choices)


class SecurityAuditFilterForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Événement"), required=False)
    q = forms.CharField(
        label=gettext_lazy("Utilisateur"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": gettext_lazy("e-mail ou nom"), "type": "search"}
        ),
    )
    organisation = forms.ModelChoiceField(
        label=gettext_lazy("Organisation"),
        queryset=Organisation.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("Toutes"),
    )
    date_from = forms.DateField(
        label=gettext_lazy("Du"),
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("Au"),
        required=False,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [("", _("Tous")), *SecurityEvent.choices]

    def _clean_day(self, name: str) -> date | None:
        value: date | None = self.cleaned_data.get(name)
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise forms.ValidationError(
                _("Choisissez une date entre %(first)s et %(last)s.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR}
            )
        return value

    def clean_date_from(self) -> date | None:
        return self._clean_day("date_from")

    def clean_date_to(self) -> date | None:
        return self._clean_day("date_to")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("La date de fin précède la date de début."))
        return data


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _users_as_text(users: QuerySet[User]) -> QuerySet[User, Any]:
    # AuditEvent.object_id is text: the subject user's id, as a string.
    return users.annotate(pk_text=Cast("pk", output_field=CharField())).values("pk_text")


def security_events(
    *,
    kind: str = "",
    q: str = "",
    organisation: Organisation | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """Security events, newest first, about or by the users the filters name."""
    events = AuditEvent.objects.filter(action__startswith=PREFIX)
    if kind:
        events = events.filter(action=kind)
    if q:
        users = User.objects.filter(
            Q(email__icontains=q)
            | Q(username__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
        )
        events = events.filter(
            Q(object_id__in=_users_as_text(users))
            | Q(actor__in=users)
            | Q(data__username__icontains=q)
        )
    if organisation is not None:
        members = User.objects.filter(organisation=organisation)
        events = events.filter(
            Q(object_id__in=_users_as_text(members))
            | Q(actor__organisation=organisation)
            # a mandate change concerns its broker and its policyholder
            | Q(data__broker_id=str(organisation.pk))
            | Q(data__policyholder_id=str(organisation.pk))
        )
    if date_from is not None:
        events = events.filter(at__gte=_start_of(date_from))
    if date_to is not None:
        events = events.filter(at__lt=_start_of(date_to + timedelta(days=1)))
    return events.select_related("actor").order_by("-at", "-pk")


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    label: str
    user: User | None
    username: str  # what was typed, for a sign-in that names no account
    actor: User | None  # shown when someone else acted on the user
    ip: str
    device: str
    details: str


def _role(value: Any) -> str:
    return str(Role(value).label) if value in Role.values else str(value or "—")


def _details(event: AuditEvent) -> str:
    data: dict[str, Any] = event.data or {}
    parts: list[str] = []
    action = event.action
    if action == SecurityEvent.ROLE_CHANGED:
        parts.append(f"{_role(data.get('before'))} → {_role(data.get('after'))}")
    elif action == SecurityEvent.MANDATE_CHANGED:
        change = {
            "created": _("créé"),
            "dates": _("dates modifiées"),
            "deleted": _("supprimé"),
        }.get(str(data.get("change")), "")
        period = _("du %(start)s au %(end)s") % {
            "start": _day(data.get("starts_on")),
            "end": _day(data.get("ends_on")) or _("sans fin"),
        }
        parts.append(f"{data.get('broker', '')} → {data.get('policyholder', '')}, {period}")
        if change:
            parts.append(change)
        before = data.get("before")
        if isinstance(before, dict):
            parts.append(
                _("avant : du %(start)s au %(end)s")
                % {
                    "start": _day(before.get("starts_on")),
                    "end": _day(before.get("ends_on")) or _("sans fin"),
                }
            )
    elif action == SecurityEvent.SESSION_EXPIRED:
        parts.append(
            _("durée maximale atteinte") if data.get("cause") == "lifetime" else _("inactivité")
        )
    elif action in (SecurityEvent.TOKEN_CREATED, SecurityEvent.TOKEN_REVOKED):
        parts.append(_("jeton %(token)s…") % {"token": data.get("token", "")})
    elif action == SecurityEvent.TOKENS_REVOKED:
        parts.append(_("%(count)s jeton(s) révoqué(s)") % {"count": data.get("revoked", 0)})
    elif action == SecurityEvent.SIGNED_OUT_EVERYWHERE:
        parts.append(_("%(count)s session(s) fermée(s)") % {"count": data.get("sessions_ended", 0)})
        if data.get("kept_current"):
            parts.append(_("sauf celle-ci"))
    elif action == SecurityEvent.SESSION_REVOKED and data.get("session_ip"):
        parts.append(_("session ouverte depuis %(ip)s") % {"ip": data["session_ip"]})
    if data.get("username") and action in (
        SecurityEvent.SIGN_IN_FAILED,
        SecurityEvent.SIGN_IN_LOCKED_OUT,
    ):
        parts.append(_("identifiant saisi : %(name)s") % {"name": data["username"]})
    if event.reason:
        parts.append(event.reason)
    return " · ".join(part for part in parts if part)


def _day(value: Any) -> str:
    if not value:
        return ""
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return str(value)


def audit_rows(events: Iterable[AuditEvent]) -> list[AuditRow]:
    """The page's (or the export's) rows: their subject users in one query."""
    events = list(events)
    ids = {int(event.object_id) for event in events if event.object_id.isdigit()}
    users = {
        str(user.pk): user
        for user in User.objects.filter(pk__in=ids).select_related("organisation")
    }
    rows = []
    for event in events:
        data: dict[str, Any] = event.data or {}
        user = users.get(event.object_id)
        by_someone_else = event.actor_id and event.actor_id != getattr(user, "pk", None)
        actor = event.actor if by_someone_else else None
        agent = str(data.get("user_agent", ""))
        rows.append(
            AuditRow(
                event=event,
                label=str(LABELS.get(event.action, event.action)),
                user=user,
                username=str(data.get("username", "")),
                actor=actor,
                ip=str(data.get("ip", "")),
                device=device_label(agent) if agent else "",
                details=_details(event),
            )
        )
    return rows


# --- CSV ------------------------------------------------------------------------------------

HEADER = [
    "date",
    "evenement",
    "code",
    "utilisateur",
    "email",
    "organisation",
    "par",
    "ip",
    "appareil",
    "details",
]
# A cell a spreadsheet would run as a formula (a typed username is anyone's text).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = str(value or "")
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def audit_csv_response(rows: Iterable[AuditRow], *, filename: str) -> HttpResponse:
    """`;` separated, UTF-8 with a BOM (Excel reads the accents), times in Europe/Paris."""
    writer = csv.writer(_Echo(), delimiter=";")

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(HEADER)
        for row in rows:
            user = row.user
            yield writer.writerow(
                [
                    _cell(f"{timezone.localtime(row.event.at):%d/%m/%Y %H:%M:%S}"),
                    _cell(row.label),
                    _cell(row.event.action),
                    _cell(str(user) if user else row.username),
                    _cell(user.email if user else ""),
                    _cell(user.organisation.name if user and user.organisation else ""),
                    _cell(str(row.actor) if row.actor else ""),
                    _cell(row.ip),
                    _cell(row.device),
                    _cell(row.details),
                ]
            )

    response = HttpResponse("".join(lines()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

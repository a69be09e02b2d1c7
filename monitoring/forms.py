"""Forms of the arbiters' monitoring pages. They parse input; the rules live in the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from monitoring.common import DEFAULT_LIMITS
from monitoring.models import AlertRule, FileKind

DEFAULT_PERIOD = 30
MAX_UPLOAD_BYTES = DEFAULT_LIMITS.max_bytes
FILTER_DEFAULTS: dict[str, Any] = {"period": DEFAULT_PERIOD, "rule": "", "q": "", "page": 1}


class MonitoringFilterForm(forms.Form):
    """The monitoring page's filters, kept in the URL. A bad value is a form error: the page
    shows it and falls back to the default for that filter."""

    period = forms.TypedChoiceField(
        label=_("Période"),
        choices=[
            (7, _("7 derniers jours")),
            (30, _("30 derniers jours")),
            (90, _("90 derniers jours")),
        ],
        coerce=int,
        required=False,
        empty_value=None,
    )
    rule = forms.ChoiceField(
        label=_("Règle"),
        choices=[("", _("Toutes les règles")), *AlertRule.choices],
        required=False,
    )
    q = forms.CharField(
        label=_("Acheteur (nom ou SIREN)"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput())

    def filters(self) -> dict[str, Any]:
        """The valid filters, each invalid or missing one at its default."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            name: cleaned[name] if cleaned.get(name) not in (None, "") else default
            for name, default in FILTER_DEFAULTS.items()
        }


class HealthFileForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Type de fichier"),
        choices=FileKind.choices,
        widget=forms.RadioSelect,
        initial=FileKind.BODACC,
    )
    file = forms.FileField(
        label=_("Fichier"),
        help_text=_(
            "Annonces BODACC : export « annonces-commerciales » en JSON lines ou CSV (;). "
            "Notes : CSV (;) avec les colonnes siren, date, note, source."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.jsonl,.ndjson,.csv,.txt"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # Refused before a byte is read into memory (the service refuses it too).
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("Le fichier dépasse %(limit)s Mo : découpez-le en plusieurs."),
                params={"limit": MAX_UPLOAD_BYTES // (1024 * 1024)},
                code="too_large",
            )
        return upload

"""The conversation pages' forms: they parse input only; the services check the rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from conversations.services import AttachmentInput
from conversations.services.threads import MAX_ATTACHMENTS
from portal.models import Organisation, User


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (`<input type=file multiple>`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


def read_attachments(files: list[UploadedFile]) -> list[AttachmentInput]:
    # One byte over the limit is enough for the service to refuse it, naming the limit; more
    # files than allowed are refused by the service without reading the rest.
    limit = settings.CONVERSATION_ATTACHMENT_MAX_BYTES + 1
    return [
        AttachmentInput(name=upload.name or "", content=upload.read(limit))
        for upload in files[: MAX_ATTACHMENTS + 1]
    ]


def _attachments_field() -> MultipleFileField:
    return MultipleFileField(
        label=_("Pièces jointes"),
        help_text=_("PDF, PNG, JPEG, XLSX ou CSV ; %(max)s fichiers au plus.")
        % {"max": MAX_ATTACHMENTS},
    )


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Votre message"), widget=forms.Textarea(attrs={"rows": 4}))
    attachments = _attachments_field()


class ThreadForm(forms.Form):
    """A new thread; a broker (or the insurer) names the client, a policyholder's user asks in
    its own space (the field is then absent)."""

    policyholder: forms.ModelChoiceField[Organisation] = forms.ModelChoiceField(
        label=_("Client"), queryset=Organisation.objects.none(), empty_label=None
    )
    subject = forms.CharField(label=_("Objet"), max_length=200)
    body = forms.CharField(label=_("Votre question"), widget=forms.Textarea(attrs={"rows": 6}))
    attachments = _attachments_field()

    def __init__(
        self, *args: Any, policyholders: QuerySet[Organisation] | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if policyholders is None:
            del self.fields["policyholder"]
        else:
            cast(forms.ModelChoiceField, self.fields["policyholder"]).queryset = policyholders


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Rechercher"), max_length=200, required=False)


if TYPE_CHECKING:
    _UserChoiceField = forms.ModelChoiceField[User]
else:
    _UserChoiceField = forms.ModelChoiceField


class ArbiterChoiceField(_UserChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} · {obj.get_role_display()}"


class ArbiterAssignForm(forms.Form):
    arbiter = ArbiterChoiceField(label=_("Nouvel arbitre dédié"), queryset=User.objects.none())
    reason = forms.CharField(label=_("Motif"), max_length=200, required=False)

    def __init__(self, *args: Any, arbiters: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["arbiter"]).queryset = arbiters


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%Y-%m-%dT%H:%M")
        super().__init__(**kwargs)


DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"]


class StandInForm(forms.Form):
    arbiter = ArbiterChoiceField(label=_("Suppléant"), queryset=User.objects.none())
    starts_at = forms.DateTimeField(
        label=_("À partir du"), widget=DateTimeInput(), input_formats=DATETIME_FORMATS
    )
    ends_at = forms.DateTimeField(
        label=_("Jusqu'au"), widget=DateTimeInput(), input_formats=DATETIME_FORMATS, required=False
    )
    reason = forms.CharField(label=_("Motif"), max_length=200, required=False)

    def __init__(self, *args: Any, arbiters: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["arbiter"]).queryset = arbiters

"""Forms of the policyholder's claim pages. They parse input; the rules live in the services.

Invoices are typed in a formset (one row per invoice) or given as a CSV; a refusal from a
service names `invoices[<i>].<field>`, which `apply_invoice_error` puts back on that row."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from claims.invoices_csv import MAX_BYTES, InvoiceData
from claims.models import ClaimInvoice
from portal.errors import DomainError
from portal.models import Organisation
from underwriting.forms import DateInput, MoneyField
from underwriting.models import Buyer

INVOICES_PREFIX = "invoices"
_INVOICE_FIELD = re.compile(r"^invoices\[(\d+)\]\.(\w+)$")


class PolicyholderChoiceForm(forms.Form):
    """A broker declares for one of its clients (its current mandates)."""

    policyholder: forms.ModelChoiceField[Organisation] = forms.ModelChoiceField(
        label=_("Client"), queryset=Organisation.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, policyholders: QuerySet[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["policyholder"]).queryset = policyholders


class BuyerQueryForm(forms.Form):
    q = forms.CharField(label=_("SIREN, SIRET, n° de TVA ou raison sociale"), max_length=200)


class BuyerChoiceForm(forms.Form):
    buyer: forms.ModelChoiceField[Buyer] = forms.ModelChoiceField(
        label=_("Acheteur"), queryset=Buyer.objects.all(), widget=forms.HiddenInput
    )


class InvoiceForm(forms.Form):
    number = forms.CharField(label=_("N° de facture"), max_length=40)
    amount = MoneyField(label=_("Montant TTC (€)"))
    invoice_date = forms.DateField(label=_("Date de facture"), widget=DateInput())
    delivery_date = forms.DateField(label=_("Date de livraison"), widget=DateInput())
    due_date = forms.DateField(label=_("Échéance"), widget=DateInput())

    def invoice(self) -> InvoiceData:
        data = self.cleaned_data
        return InvoiceData(
            number=data["number"].strip(),
            amount=data["amount"],
            invoice_date=data["invoice_date"],
            delivery_date=data["delivery_date"],
            due_date=data["due_date"],
        )


class BaseInvoiceFormSet(forms.BaseFormSet):
    def filled(self) -> list[InvoiceForm]:
        """The rows typed in (blank rows are ignored), in order."""
        return [cast(InvoiceForm, form) for form in self.forms if form.has_changed()]

    def invoices(self) -> list[InvoiceData]:
        return [form.invoice() for form in self.filled()]

    def clean(self) -> None:
        super().clean()
        if not any(form.has_changed() for form in self.forms):
            raise forms.ValidationError(_("Saisissez au moins une facture (ou déposez un CSV)."))


InvoiceFormSet = forms.formset_factory(
    InvoiceForm, formset=BaseInvoiceFormSet, extra=3, max_num=50, validate_max=True
)


def invoice_formset(data: Any = None) -> BaseInvoiceFormSet:
    return cast(BaseInvoiceFormSet, InvoiceFormSet(data, prefix=INVOICES_PREFIX))


def apply_invoice_error(formset: BaseInvoiceFormSet, error: DomainError) -> bool:
    """Put a service's refusal on the row and field it names (`invoices[1].due_date`); False
    when it names no row (the caller shows it on the whole form)."""
    match = _INVOICE_FIELD.match(error.field or "")
    filled = formset.filled()
    if match is None or int(match.group(1)) >= len(filled):
        return False
    form = filled[int(match.group(1))]
    field = match.group(2)
    form.add_error(field if field in form.fields else None, error.message)
    return True


class InvoiceFileForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier CSV des factures"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload is not None and upload.size > MAX_BYTES:
            raise forms.ValidationError(_("Le fichier dépasse 2 Mo : découpez-le."))
        return upload


class DeclareFileForm(InvoiceFileForm):
    """On the declaration page the file is an alternative to the typed rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].required = False


class DocumentForm(forms.Form):
    file = forms.FileField(
        label=_("Pièce justificative (PDF, PNG ou JPEG)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )
    invoice: forms.ModelChoiceField[ClaimInvoice] = forms.ModelChoiceField(
        label=_("Facture concernée (facultatif)"),
        queryset=ClaimInvoice.objects.none(),
        required=False,
        empty_label=_("Le sinistre dans son ensemble"),
    )

    def __init__(self, *args: Any, invoices: QuerySet[ClaimInvoice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["invoice"]).queryset = invoices

"""Who hears of each billing event: the policyholder's finance users, told of each invoice and
credit note (recipients loaded once per batch: a run records thousands of invoices)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from billing import selectors
from billing.events import BillingEvent
from billing.models import Invoice
from portal.events import Message, Recorded, notifies
from portal.models import Role
from portal.money import eur


def _finance_recipients(recorded: Sequence[Recorded]) -> Any:
    return selectors.finance_recipients_by_policyholder(
        policyholder_ids={item.obj.policyholder_id for item in recorded}
    )


@notifies(BillingEvent.INVOICE_ISSUED, BillingEvent.CREDIT_NOTE_ISSUED, prepare=_finance_recipients)
def document_issued(item: Recorded, recipients: Any) -> Iterable[Message]:
    invoice: Invoice = item.obj
    users = recipients.get(invoice.policyholder_id, [])
    if not users:  # no finance user to tell: nothing to word (a run issues thousands)
        return []
    if invoice.is_credit_note:
        subject = _("Avoir %(number)s émis") % {"number": invoice.number}
    else:
        subject = _("Facture de prime %(number)s émise") % {"number": invoice.number}
    body = _("Contrat %(contract)s, %(month)s : %(total)s, échéance le %(due)s.") % {
        "contract": invoice.contract_number,
        "month": f"{invoice.month:%m/%Y}",
        "total": eur(invoice.total),
        "due": f"{invoice.due_on:%d/%m/%Y}",
    }
    link = reverse("invoice_detail", kwargs={"invoice_id": invoice.pk})
    return [Message(recipient=user, subject=subject, body=body, link=link) for user in users]


def _finance_and_admins(recorded: Sequence[Recorded]) -> Any:
    return selectors.finance_recipients_by_policyholder(
        policyholder_ids={item.obj.policyholder_id for item in recorded},
        roles=(Role.FINANCE, Role.ORG_ADMIN),
    )


@notifies(BillingEvent.INVOICE_REMINDED, prepare=_finance_and_admins)
def invoice_reminded(item: Recorded, recipients: Any) -> Iterable[Message]:
    invoice: Invoice = item.obj
    subject = _("Relance : facture %(number)s impayée") % {"number": invoice.number}
    body = _(
        "La facture %(number)s (contrat %(contract)s, %(month)s) était à régler le %(due)s. "
        "Reste dû : %(balance)s. Si vous l'avez réglée entre-temps, ne tenez pas compte de ce "
        "message."
    ) % {
        "number": invoice.number,
        "contract": invoice.contract_number,
        "month": f"{invoice.month:%m/%Y}",
        "due": f"{invoice.due_on:%d/%m/%Y}",
        "balance": eur(invoice.balance),
    }
    link = reverse("invoice_detail", kwargs={"invoice_id": invoice.pk})
    return [
        Message(recipient=user, subject=subject, body=body, link=link)
        for user in recipients.get(invoice.policyholder_id, [])
    ]

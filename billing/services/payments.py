"""Payments against invoices (issue 14): recorded by hand or from a bank statement, by insurer
finance ops. Each payment adds to its invoice's stored `paid`, in PostgreSQL
(`billing/settlement_sql.py`), and the balance follows.

Overpayment is refused: a payment (or a bank line) larger than the balance still due is an
error naming that balance, so the books never hold a negative balance that someone must refund
by hand; the finance officer records the part that is due and handles the surplus outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from billing import selectors
from billing.events import BillingEvent
from billing.models import Invoice, InvoiceKind, Payment, PaymentSource
from billing.statements import StatementLine, read_statement
from portal import policy
from portal.errors import Conflict, RuleViolation
from portal.events import event_record, events_record_bulk
from portal.models import User
from portal.money import money
from portal.timeutils import business_today


def _balance_of_locked(invoice: Invoice) -> Decimal:
    """The balance due, read after locking the invoice's row: two payments on one invoice take
    turns, so both cannot pass the balance check."""
    balance: Decimal = (
        Invoice.objects.select_for_update().filter(pk=invoice.pk).values_list("balance").get()[0]
    )
    return balance


def _payment_refusal(*, invoice: Invoice, balance: Decimal, amount: Decimal) -> str | None:
    """Why a payment of `amount` cannot be recorded on `invoice` (None when it can)."""
    if invoice.kind != InvoiceKind.INVOICE:
        return _("%(number)s est un avoir : un paiement se rapporte à une facture.") % {
            "number": invoice.number
        }
    if balance <= 0:
        return _("La facture %(number)s est déjà réglée.") % {"number": invoice.number}
    if amount > balance:
        return _(
            "Le montant (%(amount)s EUR) dépasse le solde dû de la facture %(number)s "
            "(%(balance)s EUR) ; enregistrez au plus le solde."
        ) % {"amount": amount, "number": invoice.number, "balance": balance}
    return None


def _checked_date(received_on: date) -> None:
    if received_on > business_today():
        raise RuleViolation(
            _("La date de réception ne peut pas être dans le futur."), field="received_on"
        )


@transaction.atomic(durable=True)
def payment_record(
    *,
    invoice: Invoice,
    received_on: date,
    amount: Decimal,
    reference: str,
    actor: User,
) -> Payment:
    """Record money received on `invoice` (typed by a finance officer)."""
    policy.require(policy.can_record_payments(actor))
    amount = money(amount)
    if amount <= 0:
        raise RuleViolation(_("Le montant doit être positif."), field="amount")
    _checked_date(received_on)
    balance = _balance_of_locked(invoice)
    refusal = _payment_refusal(invoice=invoice, balance=balance, amount=amount)
    if refusal:
        raise Conflict(refusal, field="amount")
    payment = Payment.objects.create(
        policyholder_id=invoice.policyholder_id,
        invoice=invoice,
        received_on=received_on,
        amount=amount,
        reference=reference.strip()[:140],
        recorded_by=actor,
        source=PaymentSource.MANUAL,
    )
    event_record(
        action=BillingEvent.PAYMENT_RECORDED,
        actor=actor,
        obj=payment,
        policyholder=invoice.policyholder,
        data={"invoice": invoice.number, "amount": str(amount), "source": payment.source},
    )
    return payment


# --- bank statements ---------------------------------------------------------------------


@dataclass(frozen=True)
class LineVerdict:
    """One statement line and what happens to it: `invoice` set and `error` empty when it is
    recognised and will be recorded."""

    line: StatementLine
    invoice: Invoice | None
    error: str

    @property
    def accepted(self) -> bool:
        return not self.error


def _line_error(number: int, message: str) -> str:
    return _("Ligne %(line)s : %(message)s") % {"line": number, "message": message}


def bank_statement_verdicts(*, content: bytes) -> list[LineVerdict]:
    """Read a bank statement and judge each line against the visible invoices, without
    writing anything. A file that cannot be read raises `FileRefused` (on `file`)."""
    lines = read_statement(content=content)
    numbers = {line.invoice_number for line in lines if line.invoice_number}
    invoices = {
        invoice.number: invoice
        for invoice in selectors.invoices_visible().filter(number__in=numbers)
    }
    imported = set(
        Payment.objects.filter(
            reference__in={line.reference for line in lines},
            received_on__in={line.received_on for line in lines if line.received_on},
        ).values_list("reference", "received_on", "amount")
    )
    # What this file already took from each balance, line by line.
    taken: dict[str, Decimal] = {}
    seen: set[tuple[str, date | None, Decimal | None]] = set()
    today = business_today()
    verdicts = []
    for line in lines:
        invoice = invoices.get(line.invoice_number) if line.invoice_number else None
        error = line.error
        key = (line.reference, line.received_on, line.amount)
        if not error and line.received_on is not None and line.received_on > today:
            error = _("la date %(date)s est dans le futur ; corrigez la date de l'opération.") % {
                "date": f"{line.received_on:%d/%m/%Y}"
            }
        if not error and not line.invoice_number:
            error = _(
                "aucun numéro de facture (UP-AAAA-NNNNNN) dans le libellé ; saisissez ce "
                "paiement sur la page de la facture."
            )
        if not error and invoice is None:
            error = _("la facture %(number)s n'existe pas ; vérifiez le numéro du libellé.") % {
                "number": line.invoice_number
            }
        if not error and (key in imported or key in seen):
            error = _(
                "même référence, date et montant qu'un paiement déjà enregistré : ligne "
                "ignorée (doublon)."
            )
        if not error and invoice is not None and line.amount is not None:
            balance = invoice.balance - taken.get(invoice.number, Decimal(0))
            refusal = _payment_refusal(invoice=invoice, balance=balance, amount=line.amount)
            if refusal:
                error = refusal
        if not error and invoice is not None and line.amount is not None:
            taken[invoice.number] = taken.get(invoice.number, Decimal(0)) + line.amount
            seen.add(key)
        verdicts.append(
            LineVerdict(
                line=line,
                invoice=invoice,
                error=_line_error(line.number, error) if error else "",
            )
        )
    return verdicts


@transaction.atomic(durable=True)
def bank_statement_import(*, content: bytes, actor: User) -> list[LineVerdict]:
    """Record, in one transaction, a payment for every line of the statement that is
    recognised (the verdicts are judged again here, under the invoices' locks); the other lines
    are left out, each with its verdict. Importing the same file twice records nothing the
    second time (a line is known by its reference, date and amount)."""
    policy.require(policy.can_record_payments(actor))
    first = bank_statement_verdicts(content=content)
    ids = sorted({verdict.invoice.pk for verdict in first if verdict.accepted and verdict.invoice})
    list(Invoice.objects.select_for_update().filter(pk__in=ids).values_list("pk"))
    verdicts = bank_statement_verdicts(content=content)
    payments = [
        Payment(
            policyholder_id=invoice.policyholder_id,
            invoice=invoice,
            received_on=line.received_on,
            amount=line.amount,
            reference=line.reference,
            recorded_by=actor,
            source=PaymentSource.BANK_IMPORT,
        )
        for verdict in verdicts
        if verdict.accepted
        and (invoice := verdict.invoice) is not None
        and (line := verdict.line).received_on is not None
        and line.amount is not None
    ]
    Payment.objects.bulk_create(payments)
    events_record_bulk(
        action=BillingEvent.PAYMENT_RECORDED,
        actor=actor,
        items=[
            (
                payment,
                payment.policyholder_id,
                {
                    "invoice": payment.invoice.number,
                    "amount": str(payment.amount),
                    "source": payment.source,
                },
            )
            for payment in payments
        ],
    )
    return verdicts

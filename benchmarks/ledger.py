"""The finance pages on a year's ledger: 120 000 invoices and about 100 000 payments.

The billing bench book bills one month (10 000 invoices), which leaves the receivables figures
of the finance home and the invoice list's balances, statuses and totals untested at the size
a year of month-end billing leaves. This benchmark writes twelve months of invoices for the
book's 10 000 contracts (year 2000, numbered apart from the real ones), pays most of them in
full, some in part and leaves some unpaid, then measures as insurer finance ops, through the
whole middleware stack:

- the finance home (`/finance/`: receivables and overdue, the premium chart, the last runs);
- the invoice list's first page, with its totals of total, paid and balance;
- the same list filtered on overdue invoices, and on partly paid ones.

Each page is measured again as the superuser in the same run (what row-level security costs
it). The ledger is deleted afterwards, payments first (the billing benchmark deletes the bench
policyholder's invoices and must find none with payments).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from django.db import connection, transaction
from django.urls import reverse
from django_scopes import scopes_disabled

from benchmarks.database import require_all_rows
from benchmarks.portal import _beside_the_superuser, _billing_bench_book, _demo_user, _page
from benchmarks.portal import _signed_in as signed_in
from benchmarks.registry import Figure, benchmark
from billing.models import Invoice, Payment
from portal.demo import build_demo_world
from portal.models import Organisation
from underwriting.models import Contract

YEAR = 2000
MONTHS = 12

# Twelve invoices per contract of the book, numbered UP-2000-000001 on (a year no real invoice
# has), each issued on the first day of the month after its month and due 30 days later.
INVOICES_SQL = f"""
INSERT INTO {Invoice._meta.db_table}
       (id, policyholder_id, kind, contract_id, month, number, year, sequence, issued_at,
        issued_on, due_on, reason, insurer_name, insurer_address, insurer_siren,
        policyholder_name, policyholder_address, policyholder_siren, contract_number,
        premium_basis, monthly_rate, days_in_month, payment_iban, payment_bic, payment_bank,
        premium_total, minimum_adjustment, tax_amount, total)
SELECT gen_random_uuid(), c.policyholder_id, 'invoice', c.id, make_date({YEAR}, m, 1),
       'UP-{YEAR}-' || lpad(((m - 1) * %(contracts)s + c.k)::text, 6, '0'), {YEAR},
       (m - 1) * %(contracts)s + c.k,
       make_date({YEAR}, m, 1) + interval '1 month',
       (make_date({YEAR}, m, 1) + interval '1 month')::date,
       (make_date({YEAR}, m, 1) + interval '1 month')::date + 30,
       '', 'Assureur (banc d''essai)', '', '', 'Grossiste (banc d''essai)', '', '', c.number,
       'prorata', 0.0012, 30, '', '', '',
       p.premium, 0, round(p.premium * 0.09, 2), p.premium + round(p.premium * 0.09, 2)
  FROM (SELECT id, policyholder_id, number, row_number() OVER (ORDER BY number) AS k
          FROM {Contract._meta.db_table} WHERE policyholder_id = %(policyholder)s) AS c
 CROSS JOIN generate_series(1, {MONTHS}) AS m
 CROSS JOIN LATERAL (SELECT (100 + (c.k * 37 + m * 11) %% 4900)::numeric(14, 2) AS premium) AS p
"""  # noqa: S608 - table names only

# Paid in full, except one in 7 paid in part and one in 20 left unpaid (all of them overdue:
# the year 2000 is long past). Each payment adds to its invoice's stored `paid` (a trigger).
PAYMENTS_SQL = f"""
INSERT INTO {Payment._meta.db_table}
       (id, policyholder_id, invoice_id, received_on, amount, reference, source, created_at)
SELECT gen_random_uuid(), i.policyholder_id, i.id, i.due_on - 3,
       CASE WHEN i.sequence %% 7 = 0 THEN round(i.total / 2, 2) ELSE i.total END,
       'VIR ' || i.number, 'bank_import', now()
  FROM {Invoice._meta.db_table} AS i
 WHERE i.policyholder_id = %(policyholder)s AND i.year = {YEAR} AND i.sequence %% 20 <> 0
"""  # noqa: S608 - table names only


DELETE_PAYMENTS_SQL = f"""
DELETE FROM {Payment._meta.db_table} AS p USING {Invoice._meta.db_table} AS i
 WHERE p.invoice_id = i.id AND i.policyholder_id = %s AND i.year = {YEAR}
"""  # noqa: S608 - table names only
DELETE_INVOICES_SQL = f"""
DELETE FROM {Invoice._meta.db_table} WHERE policyholder_id = %s AND year = {YEAR}
"""  # noqa: S608 - table names only


def _write_ledger(policyholder: Organisation) -> tuple[int, int]:
    with transaction.atomic(), scopes_disabled(), connection.cursor() as cursor:
        require_all_rows(cursor)
        contracts = Contract.objects.filter(policyholder=policyholder).count()
        cursor.execute(INVOICES_SQL, {"policyholder": policyholder.pk, "contracts": contracts})
        invoices = cursor.rowcount
        cursor.execute(PAYMENTS_SQL, {"policyholder": policyholder.pk})
        payments = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Invoice._meta.db_table}, {Payment._meta.db_table}")
    return invoices, payments


def _delete_ledger(policyholder: Organisation) -> None:
    with transaction.atomic(), scopes_disabled(), connection.cursor() as cursor:
        require_all_rows(cursor)
        cursor.execute(DELETE_PAYMENTS_SQL, [policyholder.pk])
        cursor.execute(DELETE_INVOICES_SQL, [policyholder.pk])
    # 120 000 dead invoices would be scanned by every later figure until autovacuum came by.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {Invoice._meta.db_table}, {Payment._meta.db_table}")


@benchmark("ledger")
def finance_ledger() -> Iterator[Figure]:
    build_demo_world()  # insurer finance ops
    policyholder = _billing_bench_book()
    _delete_ledger(policyholder)  # left by a killed bench
    start = time.perf_counter()
    invoices, payments = _write_ledger(policyholder)
    yield "ledger_written", time.perf_counter() - start, "s"
    yield "invoices", invoices, "invoices"
    yield "payments", payments, "payments"
    try:
        user = _demo_user("finance")
        invoice_list = reverse("invoice_list")
        pages = [
            ("finance_home", reverse("finance_home")),
            ("invoice_list", invoice_list),
            ("invoice_list_overdue", f"{invoice_list}?status=overdue"),
            ("invoice_list_partly_paid", f"{invoice_list}?status=partly_paid&sort=-amount_due"),
        ]
        for name, path in pages:
            client = signed_in(user)
            yield from _page(name, client, user, path)
            yield from _beside_the_superuser(name, client, path)
    finally:
        _delete_ledger(policyholder)

"""The line premiums of DESIGN §4, computed set-based in PostgreSQL for a group of contracts.

Per (contract, buyer), over the guarantee periods that meet month M within the contract's dates
(`period * [first, next) * [starts_on, ends_on]`):
- `peak`: base = the highest amount in force on any day of M; premium = round(base × rate).
- `prorata`: Σ amount × days in force within M (`amount_days`, exact); premium =
  round(amount_days × rate / days in M): one division and one rounding, the one the rule names.
  The base is shown as round(amount_days / days in M); `amount_days` stays on the line so the
  premium can be recomputed from the document.
Periods of one (contract, buyer) never overlap (exclusion constraint), so Σ days is the number
of days in force.

Rounding: PostgreSQL's `round(numeric, 2)` rounds half away from zero, which is half up for these
non-negative amounts. Multiplication of numerics is exact; before the division the dividend is
cast to 20 decimal places, so the quotient carries at least 20 decimals: a quotient that is not
exactly on a half cent is at least 1e-8 / 31 away from one (amounts have 2 decimals, rates 6), far
above that precision, and one exactly on a half cent is computed exactly.
"""

from __future__ import annotations

from billing.models import Invoice, InvoiceLine
from underwriting.models import Buyer, Contract, Guarantee

# The lines of a group of contracts, one per (contract, buyer), computed from the guarantees.
# Only model table names are interpolated below; every value is a bound parameter.
LINES = f"""
SELECT x.contract_id,
       x.buyer_id,
       x.amount_days,
       x.days,
       x.rate,
       CASE WHEN x.premium_basis = 'peak' THEN x.peak
            ELSE round(x.amount_days::numeric(38, 20) / %(days_in_month)s, 2) END AS base,
       CASE WHEN x.premium_basis = 'peak' THEN round(x.peak * x.rate, 2)
            ELSE round((x.amount_days * x.rate)::numeric(38, 20) / %(days_in_month)s, 2)
       END AS premium
  FROM (SELECT g.contract_id,
               g.buyer_id,
               c.monthly_rate AS rate,
               c.premium_basis,
               max(g.amount) AS peak,
               sum(g.amount * (upper(g.period * m.r) - lower(g.period * m.r))) AS amount_days,
               sum(upper(g.period * m.r) - lower(g.period * m.r)) AS days
          FROM {Guarantee._meta.db_table} g
          JOIN {Contract._meta.db_table} c ON c.id = g.contract_id
         -- The month, within the contract's own dates: no premium counts a day outside them.
         CROSS JOIN LATERAL (
               SELECT daterange(%(first)s, %(next)s, '[)')
                      * daterange(c.starts_on, c.ends_on + 1, '[)') AS r) m
         -- Both sides by id: the group's contracts are probed, never the whole table hashed.
         WHERE g.contract_id = ANY(%(contracts)s)
           AND c.id = ANY(%(contracts)s)
           -- `g.period && m.r`, written so that PostgreSQL estimates it at one row in two: it
           -- estimates `&&` between two tables at 0.5 %%, expected 28 lines of a group's 50 000
           -- and joined the buyers by nested loop (12 500 000 comparisons a group).
           AND NOT isempty(g.period * m.r)
         GROUP BY g.contract_id, g.buyer_id, c.id) x
"""  # noqa: S608

# The premium of each contract, without writing anything (the computation alone).
SUMS = f"SELECT contract_id, sum(premium) FROM ({LINES}) w GROUP BY contract_id"  # noqa: S608

# A time-ordered UUID (version 7, RFC 9562: 48 bits of Unix milliseconds, the version, then
# random bits), computed by PostgreSQL (15 has no uuidv7()). A million lines written with random
# ids scatter their primary-key inserts over the whole index; time-ordered ones append to its
# right edge. The time prefix is read once per statement (an InitPlan); each row takes the
# random part of a version-4 UUID, whose variant bits are already RFC 9562's: 74 random bits.
# (Built byte by byte for each row, the ids of a month's lines cost 3 s of the run.)
UUID7 = """
((SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7'
    FROM lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') AS h)
 || substr(gen_random_uuid()::text, 16))::uuid
"""

# The lines computed and written in one statement, numbered in buyer-name order within each
# invoice; answers each invoice's premium total (Σ rounded lines). The invoice ids are chosen
# beforehand: the invoices are written after their lines, under the numbering lock (the foreign
# key is checked at commit).
INSERT_LINES = f"""
WITH written AS (
INSERT INTO {InvoiceLine._meta.db_table}
       (id, policyholder_id, invoice_id, position, buyer_id, buyer_name, buyer_identifier,
        label, base, amount_days, days_in_force, rate, premium)
SELECT {UUID7},
       i.policyholder_id,
       i.invoice_id,
       row_number() OVER (PARTITION BY w.contract_id ORDER BY b.name, b.id),
       w.buyer_id,
       b.name,
       COALESCE(b.siren, b.vat_number, ''),
       '',
       w.base,
       w.amount_days,
       w.days,
       w.rate,
       w.premium
  FROM ({LINES}) w
  JOIN unnest(%(contracts)s::uuid[], %(invoices)s::uuid[], %(policyholders)s::uuid[])
       AS i (contract_id, invoice_id, policyholder_id) ON i.contract_id = w.contract_id
  JOIN {Buyer._meta.db_table} b ON b.id = w.buyer_id
RETURNING invoice_id, premium)
SELECT invoice_id, sum(premium) FROM written GROUP BY invoice_id
"""  # noqa: S608

# The lines of invoices given up under the numbering lock (issued meanwhile by someone else).
DELETE_LINES = f"DELETE FROM {InvoiceLine._meta.db_table} WHERE invoice_id = ANY(%(invoices)s)"  # noqa: S608

# The lines' foreign keys other than to their invoice (buyer, policyholder): checked as the
# lines are written, outside the numbering lock, instead of at commit under it. Only the check
# against the invoice, written later in the transaction, stays deferred to the commit.
CHECKED_NOW = f"""
SELECT string_agg(quote_ident(conname), ', ')
  FROM pg_constraint
 WHERE conrelid = '{InvoiceLine._meta.db_table}'::regclass AND contype = 'f'
   AND confrelid <> '{Invoice._meta.db_table}'::regclass
"""  # noqa: S608

"""An invoice's `paid` and `credited` amounts, kept by PostgreSQL from the rows that settle it
(migration 0006).

- A payment adds its amount to its invoice's `paid` (and takes it back when deleted or moved).
- A credit note adds its amount (its total, negative, turned positive) to the `credited` of the
  invoice it credits.
- Nothing else may change them: a direct UPDATE of either column, or an INSERT that does not
  start them at 0, is an error. A stale `Invoice` saved whole therefore fails loudly instead of
  undoing a payment.

The triggers run as the caller, under row-level security: the invoice is the same
policyholder's as the payment or credit note, which the caller could write, so it sees it; an
invoice it cannot see is an error, not a silently missed update.
"""

from __future__ import annotations

FUNCTIONS = """
CREATE FUNCTION billing_payment_settles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE billing_invoice SET paid = paid - OLD.amount WHERE id = OLD.invoice_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'invoice % of payment % is not visible', OLD.invoice_id, OLD.id;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE billing_invoice SET paid = paid + NEW.amount WHERE id = NEW.invoice_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'invoice % of payment % is not visible', NEW.invoice_id, NEW.id;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION billing_credit_note_settles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.credits_id IS NOT NULL THEN
        -- The credited invoice may be deleted in the same transaction (tests, bench clean-up).
        UPDATE billing_invoice SET credited = credited + OLD.total WHERE id = OLD.credits_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.credits_id IS NOT NULL THEN
        UPDATE billing_invoice SET credited = credited - NEW.total WHERE id = NEW.credits_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'invoice % credited by % is not visible', NEW.credits_id, NEW.id;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION billing_invoice_settlement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Depth 1: a statement of the application. Depth 2 or more: one of the triggers above.
    IF TG_OP = 'INSERT' OR pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'billing_invoice.paid and .credited follow the payments and credit '
                        'notes; they are not written directly (invoice %)', NEW.id;
    END IF;
    RETURN NEW;
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER billing_payment_settles
    AFTER INSERT OR DELETE OR UPDATE OF amount, invoice_id ON billing_payment
    FOR EACH ROW EXECUTE FUNCTION billing_payment_settles();

CREATE TRIGGER billing_credit_note_issued
    AFTER INSERT ON billing_invoice
    FOR EACH ROW WHEN (NEW.credits_id IS NOT NULL)
    EXECUTE FUNCTION billing_credit_note_settles();
CREATE TRIGGER billing_credit_note_deleted
    AFTER DELETE ON billing_invoice
    FOR EACH ROW WHEN (OLD.credits_id IS NOT NULL)
    EXECUTE FUNCTION billing_credit_note_settles();
CREATE TRIGGER billing_credit_note_changed
    AFTER UPDATE OF total, credits_id ON billing_invoice
    FOR EACH ROW WHEN (
        (OLD.credits_id IS NOT NULL OR NEW.credits_id IS NOT NULL)
        AND (OLD.credits_id IS DISTINCT FROM NEW.credits_id OR OLD.total <> NEW.total)
    )
    EXECUTE FUNCTION billing_credit_note_settles();

CREATE TRIGGER billing_invoice_settlement_inserted
    BEFORE INSERT ON billing_invoice
    FOR EACH ROW WHEN (NEW.paid <> 0 OR NEW.credited <> 0)
    EXECUTE FUNCTION billing_invoice_settlement_guard();
CREATE TRIGGER billing_invoice_settlement_updated
    BEFORE UPDATE OF paid, credited ON billing_invoice
    FOR EACH ROW WHEN (OLD.paid <> NEW.paid OR OLD.credited <> NEW.credited)
    EXECUTE FUNCTION billing_invoice_settlement_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_payment_settles ON billing_payment;
DROP TRIGGER IF EXISTS billing_credit_note_issued ON billing_invoice;
DROP TRIGGER IF EXISTS billing_credit_note_deleted ON billing_invoice;
DROP TRIGGER IF EXISTS billing_credit_note_changed ON billing_invoice;
DROP TRIGGER IF EXISTS billing_invoice_settlement_inserted ON billing_invoice;
DROP TRIGGER IF EXISTS billing_invoice_settlement_updated ON billing_invoice;
DROP FUNCTION IF EXISTS billing_payment_settles();
DROP FUNCTION IF EXISTS billing_credit_note_settles();
DROP FUNCTION IF EXISTS billing_invoice_settlement_guard();
"""

# The amounts of the invoices that exist when the migration runs, from their rows, over every
# policyholder (the migration sets the scope setting to 'all' for its own transaction).
BACKFILL = """
SELECT set_config('unlockplus.policyholders', 'all', true);
UPDATE billing_invoice AS i SET paid = p.paid
  FROM (SELECT invoice_id, sum(amount) AS paid FROM billing_payment GROUP BY invoice_id) AS p
 WHERE p.invoice_id = i.id;
UPDATE billing_invoice AS i SET credited = -c.total
  FROM (SELECT credits_id, sum(total) AS total FROM billing_invoice
         WHERE credits_id IS NOT NULL GROUP BY credits_id) AS c
 WHERE c.credits_id = i.id;
"""

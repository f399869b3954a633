-- Owner: payments service.

-- A confirmed invoice that does not match its order (amount, currency or
-- order_id differ, or are missing): nothing was credited. One row per
-- (order, invoice, status, reason), so each distinct case alerts the admins
-- once however often callbacks, the reconciler or "check status" see it.
CREATE TABLE payment_mismatches (
    id                BIGSERIAL PRIMARY KEY,
    order_id          UUID NOT NULL REFERENCES orders (id),
    invoice_uuid      TEXT NOT NULL,
    -- Heleket's status of the invoice when it was seen.
    status            TEXT NOT NULL,
    -- What differs, e.g. "amount 1.50 USD, order 15.00 USD".
    reason            TEXT NOT NULL,
    -- What Heleket reported, verbatim (NULL when missing).
    invoice_order_id  TEXT,
    invoice_amount    TEXT,
    invoice_currency  TEXT,
    seen_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (order_id, invoice_uuid, status, reason)
);

-- The reconciler rechecks recently closed or credited orders with Heleket:
-- money can arrive after an order expired, and a credited order can be refunded.
CREATE INDEX orders_recent_final_idx ON orders (created_at)
    WHERE heleket_uuid IS NOT NULL AND status NOT IN ('new', 'pending', 'failed', 'refunded');

-- Owner: payments service.
-- The same button press (or the same update, redelivered after a cut
-- hand-over) must never open a second order: the bot derives a key from the
-- Telegram update and payments stores at most one order per key.
ALTER TABLE orders ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX orders_idempotency_key_idx ON orders (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Owner: payments service (only payments writes these tables).

-- One row per purchase attempt. The id is also Heleket's order_id, so a
-- retried invoice creation returns the same invoice.
CREATE TABLE orders (
    id              UUID PRIMARY KEY,
    user_id         BIGINT NOT NULL,
    chat_id         BIGINT NOT NULL,
    stars           BIGINT NOT NULL CHECK (stars > 0),
    amount          NUMERIC(20, 8) NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    -- new: stored, invoice not yet created; pending: invoice created, not final;
    -- failed: the invoice could not be created; otherwise Heleket's final status.
    status          TEXT NOT NULL DEFAULT 'new',
    -- The last status Heleket reported, verbatim (also unknown ones).
    heleket_status  TEXT,
    heleket_uuid    TEXT UNIQUE,
    pay_url         TEXT,
    expires_at      TIMESTAMPTZ,
    credited_at     TIMESTAMPTZ,
    language        TEXT NOT NULL DEFAULT 'en',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC);
-- The reconciler scans open orders only.
CREATE INDEX orders_open_idx ON orders (updated_at) WHERE status IN ('new', 'pending');

-- The source of truth for balances: a balance is the sum of a user's entries.
CREATE TABLE ledger (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    order_id    UUID REFERENCES orders (id),
    delta       BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- An order credits at most once, whatever happens above this line.
    UNIQUE (order_id, reason)
);

CREATE INDEX ledger_user_idx ON ledger (user_id);

-- Heleket callbacks claimed by (uuid, status): a replay of a processed
-- callback is recognised forever, not only while a cache remembers it.
CREATE TABLE callback_claims (
    invoice_uuid  TEXT NOT NULL,
    status        TEXT NOT NULL,
    -- A claim whose lease ran out unprocessed (the service died mid-way) can
    -- be taken again by a redelivery.
    lease_until   TIMESTAMPTZ NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 1,
    processed_at  TIMESTAMPTZ,
    outcome       TEXT,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (invoice_uuid, status)
);

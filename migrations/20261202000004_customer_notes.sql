-- Owner: admin service. What support writes down about a customer; shown
-- with the customer in the API and the console. Notes are never edited or
-- deleted (a correction is another note), so they read as a history.
CREATE TABLE customer_notes (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    -- The admin who wrote it, as the audit log names them ('admin:3 alice').
    author      TEXT NOT NULL,
    body        TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX customer_notes_user_idx ON customer_notes (user_id, id DESC);

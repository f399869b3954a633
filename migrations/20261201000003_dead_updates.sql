-- Owner: gateway.
-- Updates the bot failed on (an internal error, not an outage), counted per
-- update_id. After a few attempts the update is parked: answered 200 so
-- Telegram stops retrying and its chat moves on, kept here with the raw
-- update and the error for an operator to look at.
CREATE TABLE dead_updates (
    update_id   BIGINT PRIMARY KEY,
    chat_id     BIGINT NOT NULL,
    raw         BYTEA NOT NULL,
    last_error  TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 1,
    first_failed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_failed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set once, when the update was given up on (the admins are told then).
    parked_at   TIMESTAMPTZ
);
CREATE INDEX dead_updates_parked_idx ON dead_updates (parked_at) WHERE parked_at IS NOT NULL;

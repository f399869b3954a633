-- Owner: bot service (only the bot writes this table; others read it).
-- One row per Telegram user who ever talked to the bot.
CREATE TABLE users (
    id              BIGINT PRIMARY KEY,          -- Telegram user id (= private chat id)
    first_name      TEXT NOT NULL DEFAULT '',
    last_name       TEXT,
    username        TEXT,
    language_code   TEXT,
    -- Subscribed to news broadcasts; /start subscribes.
    subscribed      BOOLEAN NOT NULL DEFAULT TRUE,
    -- False once Telegram told us the user blocked the bot or was deactivated.
    reachable       BOOLEAN NOT NULL DEFAULT TRUE,
    unreachable_reason TEXT,
    unreachable_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Broadcast segments select by these.
CREATE INDEX users_reachable_subscribed_idx ON users (reachable, subscribed);
CREATE INDEX users_last_seen_idx ON users (last_seen_at);
CREATE INDEX users_language_idx ON users (language_code);

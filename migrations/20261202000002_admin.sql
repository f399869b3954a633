-- Owner: admin service. The people who operate the shop through the admin
-- API and console, their sign-in sessions, and the audit trail of changes.

CREATE TABLE admins (
    id              BIGSERIAL PRIMARY KEY,
    login           TEXT NOT NULL UNIQUE,
    -- argon2id PHC string; never the password.
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'marketing', 'support', 'readonly')),
    -- Failed sign-ins since the last success; at the limit the account is
    -- locked until locked_until and the count starts again.
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMPTZ,
    -- A removed admin keeps its row (the audit log names it) but can neither
    -- sign in nor use a token issued before.
    removed_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per sign-in. An access token names its session, so signing out or
-- removing the admin refuses it at once. The refresh token rotates at every
-- use; the one it replaced is remembered, and presenting that again (a stolen
-- copy used after the owner refreshed) revokes the whole session.
CREATE TABLE admin_sessions (
    id              UUID PRIMARY KEY,
    admin_id        BIGINT NOT NULL REFERENCES admins (id),
    refresh_hash    BYTEA NOT NULL UNIQUE,     -- SHA-256 of the current refresh token
    previous_hash   BYTEA UNIQUE,              -- SHA-256 of the one it replaced
    expires_at      TIMESTAMPTZ NOT NULL,
    revoked_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    address         TEXT
);

CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id) WHERE revoked_at IS NULL;

-- Every change made through the admin API (and, later, the console and the
-- bot's admin commands): who, when, what, from where. Append-only: the
-- trigger below refuses UPDATE and DELETE for every role of the database.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor       TEXT NOT NULL,              -- e.g. 'admin:3 alice', 'system'
    action      TEXT NOT NULL,              -- e.g. 'admin.create', 'auth.login_failed'
    target      TEXT,
    details     JSONB NOT NULL DEFAULT '{}',
    address     TEXT
);

CREATE INDEX audit_log_action_idx ON audit_log (action, id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

-- Customer search by username or first-name prefix (the admin API's /users?q=).
CREATE INDEX users_username_lower_idx ON users (lower(username) text_pattern_ops);
CREATE INDEX users_first_name_lower_idx ON users (lower(first_name) text_pattern_ops);

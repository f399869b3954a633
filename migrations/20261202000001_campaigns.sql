-- Owner: broadcast service (only broadcast writes these tables; the bot reads
-- nothing here, it goes through the broadcast gRPC API).

-- One row per campaign: a draft, a scheduled or running send, or a recurring
-- series whose occurrences are campaigns of their own (series_id).
CREATE TABLE campaigns (
    id                  UUID PRIMARY KEY,
    series_id           UUID REFERENCES campaigns (id),
    status              TEXT NOT NULL CHECK (status IN
                          ('draft', 'scheduled', 'recurring', 'running', 'paused', 'done', 'cancelled')),
    title               TEXT NOT NULL DEFAULT '',
    -- The proto messages as JSON (validated before they are stored).
    content             JSONB NOT NULL,
    audience            JSONB NOT NULL,
    schedule            JSONB NOT NULL,
    -- An uploaded id list lives in audience_lists under this id.
    audience_list_id    UUID,
    paid                BOOLEAN NOT NULL DEFAULT FALSE,
    created_by          BIGINT NOT NULL,
    -- Scheduled: when it starts. Recurring: when the next occurrence starts.
    run_at              TIMESTAMPTZ,
    progress_chat_id    BIGINT,
    -- 0 while one replica sends the message (claimed at progress_claimed_at;
    -- a claim left by a crash is taken over after 30 s).
    progress_message_id BIGINT,
    progress_claimed_at TIMESTAMPTZ,
    recipients          BIGINT NOT NULL DEFAULT 0,
    -- Final counts, written once when the campaign ends (the per-recipient
    -- rows stay the source of truth).
    final_counts        JSONB,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at          TIMESTAMPTZ,
    finished_at         TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- One occurrence per series and start time, however many replicas race.
    UNIQUE (series_id, run_at)
);

CREATE INDEX campaigns_due_idx ON campaigns (run_at) WHERE status IN ('scheduled', 'recurring');
CREATE INDEX campaigns_active_idx ON campaigns (id) WHERE status IN ('running', 'paused');
CREATE INDEX campaigns_list_idx ON campaigns (created_at DESC, id DESC);

-- Uploaded audiences: the ids an admin sent, kept for the campaign (and every
-- occurrence of its series).
CREATE TABLE audience_lists (
    list_id  UUID NOT NULL,
    user_id  BIGINT NOT NULL,
    PRIMARY KEY (list_id, user_id)
);

-- One row per recipient, materialised when the campaign starts.
--   pending  -> sending (claimed, the send is about to happen or happening)
--   sending  -> sent | failed | blocked | pending (a definite non-delivery: 429, 5xx, refused connection)
--   sending  -> unknown (its sender died: it may have been sent, so it never is again)
CREATE TABLE campaign_recipients (
    campaign_id  UUID NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
                   ('pending', 'sending', 'sent', 'failed', 'blocked', 'unknown')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    -- A retry waits until then.
    not_before   TIMESTAMPTZ,
    claimed_at   TIMESTAMPTZ,
    -- Which sender claimed it; its outcome only lands while the claim is its own.
    claimed_by   UUID,
    sent_at      TIMESTAMPTZ,
    message_id   BIGINT,
    error        TEXT,
    -- The primary key is the "at most one row per user per campaign" rule.
    PRIMARY KEY (campaign_id, user_id)
);

CREATE INDEX campaign_recipients_pending_idx
    ON campaign_recipients (campaign_id, user_id) WHERE state = 'pending';
CREATE INDEX campaign_recipients_sending_idx
    ON campaign_recipients (campaign_id, claimed_at) WHERE state = 'sending';

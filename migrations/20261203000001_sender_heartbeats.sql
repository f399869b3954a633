-- Owner: broadcast service.

-- Each broadcast replica's heartbeat while it has campaigns to send. A
-- recipient left `sending` by a replica that stopped beating (killed, its
-- machine gone) becomes "unknown" within seconds, instead of after the whole
-- claim lease (BROADCAST_CLAIM_LEASE), so the campaign can finish.
CREATE TABLE broadcast_senders (
    id       UUID PRIMARY KEY,
    alive_at TIMESTAMPTZ NOT NULL
);

-- The replica that claimed a recipient. NULL for rows claimed before
-- heartbeats existed: those still wait out the lease.
ALTER TABLE campaign_recipients ADD COLUMN sender UUID;

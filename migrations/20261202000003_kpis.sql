-- Owner: bot service (it owns users). What the admin API's KPIs read and
-- nothing else keeps: on which days each user used the bot.

-- One row per user per UTC day on which they used the bot, for "active users
-- per day". The triggers below write it whenever users.last_seen_at moves to
-- a new day, so every path that records activity (/start, a message, a
-- button, /subscribe) counts without code of its own, and a user active all
-- day costs one row. Invariant: the row for the day of last_seen_at exists.
CREATE TABLE user_activity (
    day      DATE NOT NULL,
    user_id  BIGINT NOT NULL,
    PRIMARY KEY (day, user_id)
);

CREATE FUNCTION users_record_activity() RETURNS trigger AS $$
BEGIN
    INSERT INTO user_activity (day, user_id)
    VALUES ((NEW.last_seen_at AT TIME ZONE 'UTC')::date, NEW.id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER users_activity_on_insert
    AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_record_activity();

-- Same-day touches (the bot writes last_seen_at at most every 5 minutes) skip
-- the trigger entirely.
CREATE TRIGGER users_activity_on_new_day
    AFTER UPDATE OF last_seen_at ON users
    FOR EACH ROW
    WHEN ((NEW.last_seen_at AT TIME ZONE 'UTC')::date
          IS DISTINCT FROM (OLD.last_seen_at AT TIME ZONE 'UTC')::date)
    EXECUTE FUNCTION users_record_activity();

-- What is known of the past: the day each user joined and was last seen.
INSERT INTO user_activity (day, user_id)
SELECT (created_at AT TIME ZONE 'UTC')::date, id FROM users
UNION
SELECT (last_seen_at AT TIME ZONE 'UTC')::date, id FROM users
ON CONFLICT DO NOTHING;

-- New users per day, and purchases and revenue per day, read by date range.
CREATE INDEX users_created_idx ON users (created_at);
CREATE INDEX orders_credited_idx ON orders (credited_at) WHERE credited_at IS NOT NULL;

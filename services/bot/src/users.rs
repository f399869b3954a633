//! The `users` table (owned by this service).

use sqlx::PgPool;
use telegram::User;

/// Registers the user or refreshes their profile and marks them reachable,
/// since they are talking to us. A user seen for the first time is
/// subscribed to news; someone who unsubscribed stays unsubscribed until
/// `/subscribe`. Returns whether the user is subscribed.
pub async fn register(db: &PgPool, u: &User) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (id, first_name, last_name, username, language_code)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET
            first_name = EXCLUDED.first_name,
            last_name = EXCLUDED.last_name,
            username = EXCLUDED.username,
            language_code = EXCLUDED.language_code,
            reachable = TRUE,
            unreachable_reason = NULL,
            unreachable_at = NULL,
            updated_at = now(),
            last_seen_at = now()
         RETURNING subscribed",
    )
    .bind(u.id)
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.username)
    .bind(&u.language_code)
    .fetch_one(db)
    .await
}

/// `/subscribe`, `/unsubscribe` or the unsubscribe button under a campaign
/// message. A user we have not met yet is registered with that choice.
pub async fn set_subscribed(db: &PgPool, u: &User, subscribed: bool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, first_name, last_name, username, language_code, subscribed)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET
            subscribed = EXCLUDED.subscribed,
            updated_at = now(),
            last_seen_at = now()",
    )
    .bind(u.id)
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.username)
    .bind(&u.language_code)
    .bind(subscribed)
    .execute(db)
    .await?;
    Ok(())
}

/// Records activity of a known user (segments use "active within N days").
pub async fn touch(db: &PgPool, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET last_seen_at = now() WHERE id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Telegram told us the user blocked the bot (or is gone): stop messaging them.
pub async fn mark_unreachable(db: &PgPool, user_id: i64, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET reachable = FALSE, unreachable_reason = $2, unreachable_at = now(), updated_at = now()
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// The user unblocked the bot.
pub async fn mark_reachable(db: &PgPool, user_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET reachable = TRUE, unreachable_reason = NULL, unreachable_at = NULL, updated_at = now()
         WHERE id = $1",
    )
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}

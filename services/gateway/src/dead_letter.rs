//! Poison updates: an update the bot fails on the same way every time (a
//! stored session that no longer parses, a bug) would get 5xx on every
//! redelivery, for as long as Telegram retries, and block its chat. Each
//! internal failure is counted in Postgres; after [`MAX_ATTEMPTS`] the update
//! is parked in `dead_updates` with its raw body and error, answered 200, and
//! the admins are told once.
//!
//! Outages (the bot down, Redis down: `Unavailable`) are not counted: those
//! updates are fine and must be retried until the outage ends.

use crate::state::AppState;

/// Internal failures of one update before it is parked.
pub const MAX_ATTEMPTS: i32 = 5;

/// Records a failed attempt; true when the update is now parked (answer 200).
/// When Postgres itself fails, nothing is parked: the update is retried.
pub async fn record_failure(
    s: &AppState,
    update_id: i64,
    chat_id: i64,
    raw: &[u8],
    error: &str,
) -> bool {
    let error: String = error.chars().take(2000).collect();
    // One statement counts the attempt and parks the update on the last one;
    // `parked_now` is true only for the statement that set `parked_at` (it
    // holds that statement's `now()`; a racing one sees the row it left), so
    // the alert goes out once however many gateways race.
    let row: Result<(i32, bool), sqlx::Error> = sqlx::query_as(
        "INSERT INTO dead_updates (update_id, chat_id, raw, last_error, parked_at)
         VALUES ($1, $2, $3, $4, CASE WHEN $5 <= 1 THEN now() END)
         ON CONFLICT (update_id) DO UPDATE SET
             attempts = dead_updates.attempts + 1,
             last_error = EXCLUDED.last_error,
             last_failed_at = now(),
             parked_at = CASE WHEN dead_updates.attempts + 1 >= $5
                              THEN COALESCE(dead_updates.parked_at, now())
                              ELSE dead_updates.parked_at END
         RETURNING attempts, parked_at IS NOT NULL AND parked_at = now()",
    )
    .bind(update_id)
    .bind(chat_id)
    .bind(raw)
    .bind(&error)
    .bind(MAX_ATTEMPTS)
    .fetch_one(&s.db)
    .await;
    match row {
        Ok((attempts, parked_now)) => {
            if parked_now {
                metrics::counter!("gateway_updates_total", "outcome" => "parked").increment(1);
                tracing::error!(
                    update_id,
                    chat_id,
                    attempts,
                    error,
                    "update parked after repeated failures"
                );
                alert_admins(s, update_id, chat_id, attempts, &error).await;
            }
            attempts >= MAX_ATTEMPTS
        }
        Err(e) => {
            tracing::warn!(update_id, error = %e, "could not record a failed update");
            false
        }
    }
}

async fn alert_admins(s: &AppState, update_id: i64, chat_id: i64, attempts: i32, error: &str) {
    let text = format!(
        "🚨 Update {update_id} (chat {chat_id}) failed {attempts} times and was parked; the chat moves on.\nError: {error}\nIt is kept in the dead_updates table."
    );
    for admin in &s.cfg.common.admin_ids {
        if let Err(e) =
            s.tg.send_message(*admin, &text, &telegram::SendOptions::default())
                .await
        {
            tracing::warn!(admin, error = %e, "could not alert an admin about a parked update");
        }
    }
}

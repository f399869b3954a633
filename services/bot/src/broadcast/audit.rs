//! The bot's admin commands in the shared audit log (`audit_log`, owned by
//! the admin service's migration): a campaign created, started, paused,
//! resumed or cancelled from Telegram is listed beside the same actions taken
//! in the admin API, with the admin's Telegram id as the actor. There is no
//! address: Telegram does not say where the admin was.

use serde_json::Value;
use sqlx::PgPool;

/// Appends one entry. The action itself has already happened, so a failed
/// write is logged, not turned into an error the admin would read as
/// "the campaign did not start".
pub async fn record(db: &PgPool, admin: i64, action: &str, campaign_id: &str, details: Value) {
    let written = sqlx::query(
        "INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4)",
    )
    .bind(format!("telegram:{admin}"))
    .bind(action)
    .bind(format!("campaign:{campaign_id}"))
    .bind(details)
    .execute(db)
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e, action, campaign_id, admin, "audit entry not written");
    }
}

//! Callback claims by `(invoice uuid, status)`, in Postgres so a replay is
//! recognised forever. A claim is a lease: if the service dies while
//! processing, the lease runs out and a redelivery takes the claim again.

use sqlx::PgPool;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// We own it: process, then [`finish`] or [`release`].
    Won,
    /// Processed before: acknowledge, do nothing.
    Done,
    /// Someone is processing it right now.
    Busy,
}

pub async fn claim(
    db: &PgPool,
    uuid: &str,
    status: &str,
    lease: Duration,
) -> Result<Claim, sqlx::Error> {
    let won: Option<i32> = sqlx::query_scalar(
        "INSERT INTO callback_claims (invoice_uuid, status, lease_until)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (invoice_uuid, status) DO UPDATE
            SET lease_until = EXCLUDED.lease_until, attempts = callback_claims.attempts + 1
            WHERE callback_claims.processed_at IS NULL AND callback_claims.lease_until < now()
         RETURNING attempts",
    )
    .bind(uuid)
    .bind(status)
    .bind(lease.as_secs_f64())
    .fetch_optional(db)
    .await?;
    if won.is_some() {
        return Ok(Claim::Won);
    }
    let processed: Option<bool> = sqlx::query_scalar(
        "SELECT processed_at IS NOT NULL FROM callback_claims WHERE invoice_uuid = $1 AND status = $2",
    )
    .bind(uuid)
    .bind(status)
    .fetch_optional(db)
    .await?;
    Ok(if processed == Some(true) {
        Claim::Done
    } else {
        Claim::Busy
    })
}

pub async fn finish(
    db: &PgPool,
    uuid: &str,
    status: &str,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE callback_claims SET processed_at = now(), outcome = $3 WHERE invoice_uuid = $1 AND status = $2",
    )
    .bind(uuid)
    .bind(status)
    .bind(outcome)
    .execute(db)
    .await?;
    Ok(())
}

/// Gives the claim up at once, so the next delivery can take it.
pub async fn release(db: &PgPool, uuid: &str, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE callback_claims SET lease_until = now() - interval '1 second'
         WHERE invoice_uuid = $1 AND status = $2 AND processed_at IS NULL",
    )
    .bind(uuid)
    .bind(status)
    .execute(db)
    .await?;
    Ok(())
}

//! Which replicas are alive, for recipients left `sending` by one that is
//! not. A replica beats (a row in `broadcast_senders`) every few seconds
//! while it has campaigns to send or sends in flight, and before its first
//! claim; every claim records the replica in `campaign_recipients.sender`.
//! A row claimed by a replica that has not beaten for `SENDER_TIMEOUT`, or
//! claimed longer ago than the lease whoever holds it, may or may not have
//! been sent: it becomes "unknown" and is never sent again.
//!
//! A replica alive but unable to beat for that long (Postgres unreachable)
//! loses its in-flight outcomes to "unknown" the same way: its outcome write
//! then finds the claim gone (the sweep clears the batch token). Never a
//! second send.

use super::Inner;
use runtime::ServiceError;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a replica with work beats.
const BEAT_EVERY: Duration = Duration::from_secs(2);

/// A replica silent this long is taken for dead: five beats missed.
pub(crate) const SENDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Heartbeats of replicas gone this long are deleted.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// Marks this replica alive now.
pub(crate) async fn beat(inner: &Inner) -> Result<(), ServiceError> {
    sqlx::query(
        "INSERT INTO broadcast_senders (id, alive_at) VALUES ($1, now())
         ON CONFLICT (id) DO UPDATE SET alive_at = now()",
    )
    .bind(inner.sender_id)
    .execute(&inner.db)
    .await?;
    Ok(())
}

/// Beats while this replica has work, until `stop` (which the engine gives
/// only once every claimed send is recorded).
pub(crate) async fn run(inner: Arc<Inner>, stop: CancellationToken) {
    let mut every = tokio::time::interval(BEAT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        if inner.has_work()
            && let Err(e) = beat(&inner).await
        {
            tracing::warn!(error = %e, "could not mark this broadcast replica alive; retrying");
        }
    }
}

/// Deletes this replica's heartbeat after a clean stop.
pub(crate) async fn forget(inner: &Inner) {
    let gone = sqlx::query("DELETE FROM broadcast_senders WHERE id = $1")
        .bind(inner.sender_id)
        .execute(&inner.db)
        .await;
    if let Err(e) = gone {
        tracing::info!(error = %e, "heartbeat row left behind; it ages out");
    }
}

/// Recipients left mid-send by a replica that died become "unknown": they
/// may or may not have been sent, so they never are again.
pub async fn sweep_stale_claims(db: &sqlx::PgPool, lease: Duration) -> Result<u64, ServiceError> {
    let done = sqlx::query(
        "UPDATE campaign_recipients r
         SET state = 'unknown', claimed_by = NULL, error = 'the sender stopped mid-send; not re-sent'
         WHERE r.state = 'sending'
           AND (r.claimed_at < now() - make_interval(secs => $1)
                OR (r.sender IS NOT NULL
                    AND r.claimed_at < now() - make_interval(secs => $2)
                    AND NOT EXISTS (SELECT 1 FROM broadcast_senders s
                                    WHERE s.id = r.sender
                                      AND s.alive_at > now() - make_interval(secs => $2))))",
    )
    .bind(lease.as_secs_f64())
    .bind(SENDER_TIMEOUT.as_secs_f64())
    .execute(db)
    .await?;
    if done.rows_affected() > 0 {
        tracing::warn!(
            recipients = done.rows_affected(),
            "recipients left mid-send by a stopped sender are now unknown"
        );
        metrics::counter!("broadcast_unknown_total").increment(done.rows_affected());
    }
    sqlx::query("DELETE FROM broadcast_senders WHERE alive_at < now() - make_interval(secs => $1)")
        .bind(FORGET_AFTER.as_secs_f64())
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

impl Inner {
    /// Campaigns followed here, or claimed sends not recorded yet.
    fn has_work(&self) -> bool {
        !self.senders.lock().expect("senders").is_empty()
            || self.claims_in_flight.load(Ordering::Relaxed) > 0
    }
}

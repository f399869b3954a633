//! Polls Heleket for open orders, because a callback can be lost: a paid
//! order is credited, an expired one closed. Orders closed or credited within
//! [`LATE_PAYMENT_WINDOW`] are rechecked too, less often: a payment that
//! lands after the order expired is credited (once), a refund is recorded.
//! It goes through the same [`Payments::sync`] as the "check status" button.

use crate::flow::{LATE_PAYMENT_WINDOW, Payments};
use crate::orders;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const BATCH: i64 = 50;
/// A closed or credited order is asked about at most this often.
const LATE_RECHECK_EVERY: Duration = Duration::from_secs(600);

pub fn spawn(
    p: Payments,
    interval: Duration,
    min_age: Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            match run_once(&p, min_age).await {
                Ok(n) if n > 0 => tracing::info!(checked = n, "reconciled open orders"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reconciliation pass failed"),
            }
        }
    })
}

/// One pass over the open orders, then the recent closed ones; returns how many were checked.
pub async fn run_once(p: &Payments, min_age: Duration) -> Result<usize, sqlx::Error> {
    let mut open = orders::open_orders(&p.db, min_age, BATCH).await?;
    open.extend(
        orders::recent_final_orders(
            &p.db,
            LATE_PAYMENT_WINDOW,
            LATE_RECHECK_EVERY.max(min_age),
            BATCH,
        )
        .await?,
    );
    for o in &open {
        if !p.heleket.call_permitted() {
            // Heleket is down: try again next pass rather than burn the batch.
            // (Asking the breaker itself, not the mirrored state: after the
            // recovery time this lets the trial call through even on a quiet night.)
            break;
        }
        if let Err(e) = p.sync(o).await {
            tracing::warn!(order_id = %o.id, error = %e, "could not reconcile order");
        }
        orders::touch(&p.db, o.id).await?;
    }
    metrics::counter!("reconciled_orders_total").increment(open.len() as u64);
    Ok(open.len())
}

//! Starting campaigns: materialising the recipients and going "running" in
//! one transaction, under the campaign's row lock. A replica that dies half
//! way rolls back (the campaign is still scheduled, with no rows); two
//! replicas racing for the same due campaign cannot both start it, because
//! the loser skips the locked row and then finds it no longer scheduled.

use super::Inner;
use crate::audience;
use crate::schedule;
use crate::store::{COLUMNS, Campaign};
use runtime::ServiceError;
use sqlx::{Acquire, PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

/// A campaign this large gets fresh planner statistics as it starts; below
/// it, a claim reads all of a campaign's pending rows in well under a
/// millisecond whatever the plan.
const ANALYZE_FROM: i64 = 10_000;

/// Materialises `c`'s recipients and marks it running (or done at once when
/// nobody is selected), inside `tx`, which holds `c`'s row lock.
pub async fn materialise_and_run(
    tx: &mut Transaction<'_, Postgres>,
    c: &Campaign,
) -> Result<Campaign, ServiceError> {
    let n = audience::materialise(tx, c.id, &c.audience.0, c.audience_list_id).await?;
    if n >= ANALYZE_FROM {
        // The planner's statistics still describe the table before these
        // rows (empty, or earlier campaigns all sent): it then takes the new
        // campaign's pending rows for a handful and answers every claim by
        // reading all of them and sorting (570 ms per claim at 1,000,000,
        // longer than the slots the claim was for, so nothing was ever
        // sent). ANALYZE in this transaction counts our own rows and
        // publishes the statistics with them: ~0.2 s once per large start.
        analyze_recipients(tx).await?;
    }
    let status = if n == 0 { "done" } else { "running" };
    let started: Campaign = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE campaigns SET status = $2, recipients = $3, started_at = now(), updated_at = now(),
             finished_at = CASE WHEN $2 = 'done' THEN now() END
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(c.id)
    .bind(status)
    .bind(n)
    .fetch_one(&mut **tx)
    .await?;
    metrics::counter!("broadcast_campaigns_started_total").increment(1);
    tracing::info!(campaign = %c.id, recipients = n, "campaign started");
    Ok(started)
}

/// ANALYZE takes a table lock that waits for a running vacuum (an
/// anti-wraparound one is not cancelled for us) or another start's ANALYZE.
/// The start does not wait for it: after a second it goes on with the old
/// statistics, which autovacuum corrects soon after.
async fn analyze_recipients(tx: &mut Transaction<'_, Postgres>) -> Result<(), ServiceError> {
    let mut sp = tx.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '1s'")
        .execute(&mut *sp)
        .await?;
    match sqlx::query("ANALYZE campaign_recipients")
        .execute(&mut *sp)
        .await
    {
        Ok(_) => {
            sp.commit().await?;
            // SET LOCAL outlives the savepoint: back to the usual for the
            // rest of the start.
            sqlx::query("SET LOCAL lock_timeout TO DEFAULT")
                .execute(&mut **tx)
                .await?;
        }
        Err(e) => {
            tracing::info!(error = %e, "recipients not analyzed at the start; autovacuum will");
            sp.rollback().await?;
        }
    }
    Ok(())
}

/// Starts due campaigns every poll interval until shutdown.
pub(super) async fn run(
    inner: std::sync::Arc<Inner>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        if let Err(e) = due(&inner).await {
            tracing::warn!(error = %e, "starting due campaigns failed; retrying");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(inner.cfg.poll_interval) => {}
        }
    }
}

/// Starts every due scheduled campaign and every due occurrence of a series.
async fn due(inner: &Inner) -> Result<(), ServiceError> {
    // One index probe per tick when nothing is due (the usual case), instead
    // of two transactions.
    let any_due: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM campaigns
                        WHERE status IN ('scheduled', 'recurring') AND run_at <= now())",
    )
    .fetch_one(&inner.db)
    .await?;
    if !any_due {
        return Ok(());
    }
    let started = |c: Campaign| {
        // The tick spawns its sender now; the message must not hold up the next start.
        inner.wake.notify_one();
        let progress = inner.progress.clone();
        tokio::spawn(async move { progress.update_now(&c).await });
    };
    while let Some(c) = start_one_scheduled(&inner.db).await? {
        started(c);
    }
    while let Some(c) = start_one_occurrence(inner).await? {
        started(c);
    }
    Ok(())
}

/// The earliest due campaign in `status`, row-locked; one another replica
/// holds is skipped, not waited for.
async fn lock_due(
    tx: &mut Transaction<'_, Postgres>,
    status: &str,
) -> Result<Option<Campaign>, ServiceError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM campaigns
         WHERE status = $1 AND run_at <= now()
         ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    )))
    .bind(status)
    .fetch_optional(&mut **tx)
    .await?)
}

async fn start_one_scheduled(db: &PgPool) -> Result<Option<Campaign>, ServiceError> {
    let mut tx = db.begin().await?;
    let Some(c) = lock_due(&mut tx, "scheduled").await? else {
        return Ok(None);
    };
    let started = materialise_and_run(&mut tx, &c).await?;
    tx.commit().await?;
    Ok(Some(started))
}

/// One due occurrence of a recurring series: a campaign of its own, keyed by
/// (series, start time) so it exists once however often this runs. Missed
/// occurrences (the service was down) collapse into one, sent late, rather
/// than a burst of stale copies.
async fn start_one_occurrence(inner: &Inner) -> Result<Option<Campaign>, ServiceError> {
    let mut tx = inner.db.begin().await?;
    let Some(series) = lock_due(&mut tx, "recurring").await? else {
        return Ok(None);
    };
    let occurrence_at = series.run_at.unwrap_or_else(OffsetDateTime::now_utc);
    let next = next_occurrence(inner, &series, OffsetDateTime::now_utc());
    sqlx::query("UPDATE campaigns SET run_at = $2, updated_at = now() WHERE id = $1")
        .bind(series.id)
        .bind(next)
        .execute(&mut *tx)
        .await?;
    let child: Option<Campaign> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO campaigns (id, series_id, status, title, content, audience, schedule,
             audience_list_id, paid, created_by, run_at, progress_chat_id)
         SELECT $1, id, 'scheduled', title, content, audience, schedule, audience_list_id, paid,
             created_by, $3, progress_chat_id
         FROM campaigns WHERE id = $2
         ON CONFLICT (series_id, run_at) DO NOTHING
         RETURNING {COLUMNS}"
    )))
    .bind(Uuid::new_v4())
    .bind(series.id)
    .bind(occurrence_at)
    .fetch_optional(&mut *tx)
    .await?;
    let started = match child {
        Some(child) => Some(materialise_and_run(&mut tx, &child).await?),
        None => None,
    };
    if next.is_none() {
        // A series with no future occurrence is over.
        sqlx::query("UPDATE campaigns SET status = 'done', finished_at = now() WHERE id = $1")
            .bind(series.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(started.or(Some(series)))
}

fn next_occurrence(
    inner: &Inner,
    series: &Campaign,
    after: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let s = &series.schedule.0;
    let tz = if s.timezone.is_empty() {
        inner.tz
    } else {
        schedule::parse_timezone(&s.timezone).unwrap_or(inner.tz)
    };
    match schedule::parse_recurring(&s.cron, &tz) {
        Ok(r) => r.next_after(after),
        Err(e) => {
            // Validated when it was confirmed; only a changed parser gets here.
            tracing::error!(series = %series.id, error = %e, "recurring schedule no longer parses; stopping the series");
            None
        }
    }
}

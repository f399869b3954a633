//! Sending one campaign from this replica. Other replicas may send the same
//! campaign at the same time: they share the recipients through
//! `FOR UPDATE SKIP LOCKED` claims and the token's budget through Redis.
//!
//! A recipient's row goes pending → sending (claimed, committed before the
//! message leaves) → sent / failed / blocked, or back to pending only when
//! Telegram certainly did not deliver it (429, a 5xx answer, a refused
//! connection). A send that got no answer is "unknown", and so is a row left
//! "sending" by a replica that died (see `liveness`): either may have
//! reached the user, so neither is ever sent again.

use super::Inner;
use crate::content::{self, Recipient};
use crate::store::{self, Campaign};
use cache::LATE_LIMIT;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use runtime::ServiceError;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use telegram::TgError;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Batches in flight per campaign and replica: enough to keep the budget busy
/// while one batch's outcomes are written, few enough that a crash leaves
/// only a fraction of a second of sends "unknown".
const IN_FLIGHT_BATCHES: usize = 4;

/// The most recipients one claim takes. At Telegram's rates a batch is the
/// lookahead's worth (6 at 30/s, 200 at 1000/s); past them (a sandbox with
/// its limits off) it would grow with the rate, and every claimed recipient
/// holds a send in memory and counts as "unknown" if this replica dies.
const MAX_BATCH: u32 = 500;

/// Time between reserving slots and the first of them: enough to claim the
/// recipients from Postgres under load, so no slot is used late.
const CLAIM_LEAD: Duration = Duration::from_millis(50);

/// One claimed recipient with what its template needs.
#[derive(sqlx::FromRow)]
struct Claimed {
    user_id: i64,
    attempts: i32,
    first_name: String,
    username: Option<String>,
    language_code: Option<String>,
    balance: i64,
    subscribed: bool,
    reachable: bool,
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Sent(i64),
    Failed(String),
    Blocked(String),
    Unknown(String),
    /// Certainly not delivered: back to pending after `after`. `attempt`
    /// says whether it counts against BROADCAST_MAX_ATTEMPTS.
    Retry {
        after: Duration,
        attempt: bool,
        reason: String,
    },
}

pub(super) async fn run(
    inner: Arc<Inner>,
    id: Uuid,
    mut status: watch::Receiver<String>,
    shutdown: CancellationToken,
) {
    let result = send_campaign(&inner, id, &mut status, &shutdown).await;
    if let Err(e) = result {
        tracing::warn!(campaign = %id, error = %e, "campaign sender stopped; the next tick restarts it");
    }
    inner.sender_stopped(id);
}

async fn send_campaign(
    inner: &Arc<Inner>,
    id: Uuid,
    status: &mut watch::Receiver<String>,
    shutdown: &CancellationToken,
) -> Result<(), ServiceError> {
    let campaign = Arc::new(store::load(&inner.db, id).await?);
    // Alive before the first claim: a claim by a replica with no heartbeat
    // yet would look like a dead one's.
    super::liveness::beat(inner).await?;
    let per_sec = if campaign.paid {
        inner.budget.paid_per_sec
    } else {
        inner.budget.per_sec
    };
    let batch = ((f64::from(per_sec) * inner.cfg.lookahead.as_secs_f64()).ceil() as u32)
        .clamp(1, MAX_BATCH);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT_BATCHES));
    let budget_key = inner.budget.key(campaign.paid);
    // The last claim found nobody due.
    let mut idle = false;
    loop {
        let now = status.borrow_and_update().clone();
        match now.as_str() {
            "running" => {}
            "paused" => {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    changed = status.changed() => if changed.is_err() { return Ok(()) },
                }
                continue;
            }
            _ => return Ok(()),
        }
        if shutdown.is_cancelled() {
            return Ok(());
        }
        wait_out_flood(inner, shutdown).await;
        // After an empty claim, no slot is reserved (and wasted: other
        // campaigns share the budget) until a recipient is due again.
        if idle && !store::any_due_pending(&inner.db, id).await? {
            if let Some(done) = store::finish_if_drained(&inner.db, id).await? {
                // Wait for our own batches before the summary is read.
                let _ = in_flight.acquire_many(IN_FLIGHT_BATCHES as u32).await;
                inner.finished(&done).await;
                return Ok(());
            }
            // Retries not due yet, or sends in flight here or elsewhere.
            pause(shutdown, Duration::from_millis(200)).await;
            continue;
        }
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let slots = match inner
            .cache
            .reserve_sends(
                &budget_key,
                per_sec,
                batch,
                CLAIM_LEAD,
                inner.cfg.lookahead,
                None,
            )
            .await
        {
            Ok(s) => s,
            Err(e) => {
                // No budget, no sends: Telegram's limit is not ours to guess.
                tracing::warn!(campaign = %id, error = %e, "send budget unavailable; waiting");
                pause(shutdown, Duration::from_secs(1)).await;
                continue;
            }
        };
        let reserved_at = slots.answered;
        if slots.count == 0 {
            pause(shutdown, slots.first_in.max(Duration::from_millis(5))).await;
            continue;
        }
        // A stop asked for during the waits above claims nothing more.
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let in_flight_claim = InFlight::new(inner.clone());
        let claimed = claim(inner, id, slots.count).await?;
        idle = claimed.rows.is_empty();
        if idle {
            continue;
        }
        let (inner2, campaign2, status2) = (inner.clone(), campaign.clone(), status.clone());
        inner.tasks.spawn(async move {
            let outcomes = send_batch(&inner2, &campaign2, &claimed.rows, slots, &status2).await;
            record(&inner2, id, claimed.token, &claimed.rows, outcomes).await;
            drop(in_flight_claim);
            drop(permit);
        });
        // Ask for the next batch when half of this one's slots have passed,
        // so the budget never idles and never runs far ahead.
        let half = slots.offset(slots.count) / 2;
        pause(shutdown, half.saturating_sub(reserved_at.elapsed())).await;
    }
}

/// A claimed batch whose outcomes are not written yet: the replica keeps
/// beating while one exists (see `liveness`), also if its task panics.
struct InFlight(Arc<Inner>);

impl InFlight {
    fn new(inner: Arc<Inner>) -> InFlight {
        inner.claims_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(inner)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.claims_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn pause(shutdown: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

async fn wait_out_flood(inner: &Inner, shutdown: &CancellationToken) {
    let until = *inner.flood_until.lock().expect("flood");
    if let Some(until) = until {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }
}

struct Batch {
    /// Written into claimed_by: outcomes land only on rows still claimed by it.
    token: Uuid,
    rows: Vec<Claimed>,
}

async fn claim(inner: &Inner, id: Uuid, n: u32) -> Result<Batch, ServiceError> {
    let token = Uuid::new_v4();
    // Every step goes through an index, whatever the campaign's size: the
    // picked ids become one array (an InitPlan, then primary-key lookups),
    // and the user behind each row is a LIMIT 1 lateral lookup. Written as
    // joins against the CTE, the planner hashed the whole campaign and the
    // whole users table for every batch: at 50,000 recipients that was 36 ms
    // per claim of 1,400, and at 30/s (3 rows a claim) almost all of
    // Postgres' CPU.
    let rows: Vec<Claimed> = sqlx::query_as(
        "WITH claimed AS (
             UPDATE campaign_recipients r
             SET state = 'sending', claimed_at = now(), claimed_by = $3, sender = $4,
                 attempts = r.attempts + 1
             WHERE r.campaign_id = $1 AND r.user_id = ANY(ARRAY(
                 SELECT user_id FROM campaign_recipients
                 WHERE campaign_id = $1 AND state = 'pending' AND (not_before IS NULL OR not_before <= now())
                 ORDER BY user_id LIMIT $2 FOR UPDATE SKIP LOCKED))
             RETURNING r.user_id, r.attempts
         )
         SELECT c.user_id, c.attempts, COALESCE(u.first_name, '') AS first_name, u.username,
                u.language_code,
                COALESCE((SELECT sum(l.delta) FROM ledger l WHERE l.user_id = c.user_id), 0)::bigint AS balance,
                COALESCE(u.subscribed, FALSE) AS subscribed, COALESCE(u.reachable, FALSE) AS reachable
         FROM claimed c
         LEFT JOIN LATERAL (SELECT * FROM users WHERE users.id = c.user_id LIMIT 1) u ON TRUE
         ORDER BY c.user_id",
    )
    .bind(id)
    .bind(i64::from(n))
    .bind(token)
    .bind(inner.sender_id)
    .fetch_all(&inner.db)
    .await?;
    Ok(Batch { token, rows })
}

async fn send_batch(
    inner: &Inner,
    c: &Campaign,
    rows: &[Claimed],
    slots: cache::Slots,
    status: &watch::Receiver<String>,
) -> Vec<Outcome> {
    // One message per second per chat, across campaigns and replicas.
    let chats: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    let free = match inner
        .cache
        .take_chat_slots(&inner.budget.bot_id, &chats, Duration::from_secs(1))
        .await
    {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "per-chat limits unavailable; retrying the batch");
            vec![false; rows.len()]
        }
    };
    let mut sends = FuturesUnordered::new();
    for (i, (row, free)) in rows.iter().zip(free).enumerate() {
        // Waited for from Redis' answer (never early), judged late from
        // when Redis counted it (a slow answer counts as lateness, a
        // question that waited to reach Redis does not).
        let at = slots.at(i as u32);
        let due = slots.due(i as u32);
        sends.push(async move {
            let outcome = if !row.reachable {
                Outcome::Blocked("unreachable since the campaign started".into())
            } else if !row.subscribed {
                Outcome::Failed("unsubscribed since the campaign started".into())
            } else if !free {
                Outcome::Retry {
                    after: Duration::from_secs(1),
                    attempt: false,
                    reason: "chat sent to within the last second".into(),
                }
            } else {
                tokio::time::sleep_until(at).await;
                send_one(inner, c, row, status, due).await
            };
            (i, outcome)
        });
    }
    let mut out = vec![Outcome::Unknown(String::new()); rows.len()];
    while let Some((i, o)) = sends.next().await {
        out[i] = o;
    }
    out
}

async fn send_one(
    inner: &Inner,
    c: &Campaign,
    row: &Claimed,
    status: &watch::Receiver<String>,
    due: Instant,
) -> Outcome {
    // The last moment to honour a pause, a cancel or someone's 429.
    let not_now = |reason: &str| Outcome::Retry {
        after: Duration::ZERO,
        attempt: false,
        reason: reason.to_string(),
    };
    if *status.borrow() != "running" {
        return not_now("campaign paused");
    }
    if let Some(left) = flooded(inner) {
        return Outcome::Retry {
            after: left,
            attempt: false,
            reason: "flood wait".into(),
        };
    }
    let r = Recipient {
        first_name: &row.first_name,
        username: row.username.as_deref(),
        language: row.language_code.as_deref(),
        balance: row.balance,
    };
    let msg = content::render(&c.content.0, &r);
    let mut params = msg.params;
    params["chat_id"] = json!(row.user_id);
    if c.paid {
        params["allow_paid_broadcast"] = json!(true);
    }
    let (kind, per_sec) = if c.paid {
        (1, inner.budget.paid_per_sec)
    } else {
        (0, inner.budget.per_sec)
    };
    let Some(ticket) = inner.arrivals[kind]
        .admit(per_sec as usize, due + LATE_LIMIT)
        .await
    else {
        // Sent now, it would bunch up with the next on-time slot (rate + 1
        // in some second); it waits for a fresh slot.
        metrics::counter!("broadcast_late_slots_total").increment(1);
        tracing::debug!(late_us = due.elapsed().as_micros() as u64, "slot missed");
        return not_now("slot missed");
    };
    // Waiting for the slot can take a while on a busy box, and another send's
    // 429 may have come meanwhile: look again, or this send lands inside the
    // pause Telegram asked for.
    if let Some(left) = flooded(inner) {
        return Outcome::Retry {
            after: left,
            attempt: false,
            reason: "flood wait".into(),
        };
    }
    let result = inner.bulk.call_unpaced::<Value>(msg.method, &params).await;
    drop(ticket);
    if let Err(TgError::RetryAfter(wait)) = &result {
        flood(inner, *wait).await;
    }
    let outcome = classify(result, row.attempts, inner);
    metrics::counter!("broadcast_sends_total", "outcome" => outcome.state()).increment(1);
    outcome
}

/// What is left of a 429's pause seen by this replica, if any.
fn flooded(inner: &Inner) -> Option<Duration> {
    let until = (*inner.flood_until.lock().expect("flood"))?;
    until
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
}

/// A 429 stops every local sender at once and every other one through Redis.
async fn flood(inner: &Inner, wait: Duration) {
    let until = Instant::now() + wait;
    {
        let mut f = inner.flood_until.lock().expect("flood");
        if f.is_none_or(|cur| cur < until) {
            *f = Some(until);
        }
    }
    if let Err(e) = inner.cache.pause_sends(&inner.budget.bot_id, wait).await {
        tracing::warn!(error = %e, "could not share a flood wait through Redis");
    }
    tracing::warn!(retry_after = ?wait, "Telegram asked every sender to wait");
}

fn classify(result: Result<Value, TgError>, attempts: i32, inner: &Inner) -> Outcome {
    let backoff = |reason: String| {
        if attempts >= inner.cfg.max_attempts as i32 {
            Outcome::Failed(reason)
        } else {
            let exp = (attempts.max(1) - 1).min(10) as u32;
            Outcome::Retry {
                after: inner.cfg.retry_base * 2u32.pow(exp),
                attempt: true,
                reason,
            }
        }
    };
    match result {
        Ok(v) => Outcome::Sent(v.get("message_id").and_then(Value::as_i64).unwrap_or(0)),
        Err(TgError::RetryAfter(wait)) => Outcome::Retry {
            after: wait,
            attempt: false,
            reason: format!("429: retry after {}s", wait.as_secs()),
        },
        Err(TgError::Unreachable(d)) if d.to_ascii_lowercase().contains("chat not found") => {
            Outcome::Failed(d)
        }
        Err(TgError::Unreachable(d)) => Outcome::Blocked(d),
        Err(e @ (TgError::Transient(_) | TgError::NotSent(_))) => backoff(e.to_string()),
        Err(e @ TgError::Unconfirmed(_)) => Outcome::Unknown(e.to_string()),
        Err(e @ (TgError::BadRequest { .. } | TgError::NotModified)) => {
            Outcome::Failed(e.to_string())
        }
    }
}

impl Outcome {
    fn state(&self) -> &'static str {
        match self {
            Outcome::Sent(_) => "sent",
            Outcome::Failed(_) => "failed",
            Outcome::Blocked(_) => "blocked",
            Outcome::Unknown(_) => "unknown",
            Outcome::Retry { .. } => "pending",
        }
    }
}

/// Writes a batch's outcomes in one statement; keeps trying while the claim
/// lease lasts (after it, or once this replica has been silent for
/// `liveness::SENDER_TIMEOUT`, the rows are "unknown" and nothing lands).
async fn record(inner: &Inner, id: Uuid, token: Uuid, rows: &[Claimed], outcomes: Vec<Outcome>) {
    let mut users = Vec::with_capacity(rows.len());
    let mut states = Vec::with_capacity(rows.len());
    let mut errors: Vec<Option<String>> = Vec::with_capacity(rows.len());
    let mut message_ids: Vec<Option<i64>> = Vec::with_capacity(rows.len());
    let mut delays = Vec::with_capacity(rows.len());
    let mut attempt_deltas = Vec::with_capacity(rows.len());
    let mut blocked: Vec<(i64, String)> = Vec::new();
    for (row, o) in rows.iter().zip(&outcomes) {
        users.push(row.user_id);
        states.push(o.state());
        let (error, message_id, delay, delta) = match o {
            Outcome::Sent(m) => (None, Some(*m), 0.0, 0),
            Outcome::Failed(e) | Outcome::Unknown(e) => (Some(e.clone()), None, 0.0, 0),
            Outcome::Blocked(e) => {
                blocked.push((row.user_id, e.clone()));
                (Some(e.clone()), None, 0.0, 0)
            }
            Outcome::Retry {
                after,
                attempt,
                reason,
            } => (
                Some(reason.clone()),
                None,
                after.as_secs_f64(),
                if *attempt { 0 } else { -1 },
            ),
        };
        errors.push(error);
        message_ids.push(message_id);
        delays.push(delay);
        attempt_deltas.push(delta);
    }
    let deadline = Instant::now() + inner.cfg.claim_lease;
    let mut wait = Duration::from_millis(100);
    loop {
        match write_outcomes(
            inner,
            id,
            token,
            &users,
            &states,
            &errors,
            &message_ids,
            &delays,
            &attempt_deltas,
            &blocked,
        )
        .await
        {
            Ok(()) => return,
            Err(e) if Instant::now() + wait < deadline => {
                tracing::warn!(campaign = %id, error = %e, "could not record outcomes; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(campaign = %id, error = %e, recipients = users.len(),
                    "outcomes lost; these recipients will count as unknown");
                return;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_outcomes(
    inner: &Inner,
    id: Uuid,
    token: Uuid,
    users: &[i64],
    states: &[&str],
    errors: &[Option<String>],
    message_ids: &[Option<i64>],
    delays: &[f64],
    attempt_deltas: &[i32],
    blocked: &[(i64, String)],
) -> Result<(), sqlx::Error> {
    let mut tx = inner.db.begin().await?;
    // A row is still under this claim while it carries the batch's token
    // and a claim time: a new claim writes its own token, the stale-claim
    // sweep clears the token as it sets `unknown`, and this write clears the
    // claim time (so a retry after a commit whose answer was lost changes
    // nothing). A `state = 'sending'` test would say the same, but it matches
    // the partial sending index, whose statistics date from when nothing was
    // sending: the planner took it for one row and rescanned the unnest for
    // every row in flight (a 1,000-row batch beside 16,000 in flight: 4 s in
    // one statement). This way each outcome is a primary-key lookup.
    sqlx::query(
        "UPDATE campaign_recipients r SET
             state = o.state,
             claimed_at = NULL,
             error = o.error,
             message_id = o.message_id,
             sent_at = CASE WHEN o.state = 'sent' THEN now() ELSE r.sent_at END,
             not_before = CASE WHEN o.state = 'pending' THEN now() + make_interval(secs => o.delay) END,
             attempts = r.attempts + o.attempt_delta
         FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::float8[], $8::int4[])
              AS o(user_id, state, error, message_id, delay, attempt_delta)
         WHERE r.campaign_id = $1 AND r.user_id = o.user_id
           AND r.claimed_by = $2 AND r.claimed_at IS NOT NULL",
    )
    .bind(id)
    .bind(token)
    .bind(users)
    .bind(states)
    .bind(errors)
    .bind(message_ids)
    .bind(delays)
    .bind(attempt_deltas)
    .execute(&mut *tx)
    .await?;
    if !blocked.is_empty() {
        let (ids, reasons): (Vec<i64>, Vec<String>) = blocked.iter().cloned().unzip();
        // Excluded from every later audience (users.reachable; the bot sets
        // it back when the user talks to us again).
        sqlx::query(
            "UPDATE users u SET reachable = FALSE, unreachable_reason = b.reason,
                 unreachable_at = now(), updated_at = now()
             FROM unnest($1::bigint[], $2::text[]) AS b(id, reason)
             WHERE u.id = b.id AND u.reachable",
        )
        .bind(&ids)
        .bind(&reasons)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

//! Campaign rows: loading, listing, counting and the status changes an admin
//! asks for. Every change is one conditional UPDATE, so two replicas (or two
//! admins) racing on the same campaign cannot both win.

use proto::broadcast::{Audience, Campaign as CampaignMsg, Content, Progress, Schedule};
use runtime::ServiceError;
use sqlx::types::Json;
use sqlx::{FromRow, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

/// Statuses in which a campaign may still send.
pub const LIVE: [&str; 2] = ["running", "paused"];

#[derive(Debug, Clone, FromRow)]
pub struct Campaign {
    pub id: Uuid,
    pub series_id: Option<Uuid>,
    pub status: String,
    pub title: String,
    pub content: Json<Content>,
    pub audience: Json<Audience>,
    pub schedule: Json<Schedule>,
    pub audience_list_id: Option<Uuid>,
    pub paid: bool,
    pub created_by: i64,
    pub run_at: Option<OffsetDateTime>,
    pub progress_chat_id: Option<i64>,
    pub progress_message_id: Option<i64>,
    pub recipients: i64,
    pub final_counts: Option<Json<Counts>>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
}

pub const COLUMNS: &str = "id, series_id, status, title, content, audience, schedule, audience_list_id, \
     paid, created_by, run_at, progress_chat_id, progress_message_id, recipients, final_counts, \
     created_at, started_at, finished_at";

/// Per-state recipient counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub blocked: i64,
    pub unknown: i64,
}

impl Counts {
    pub fn total(&self) -> i64 {
        self.pending + self.sending + self.sent + self.failed + self.blocked + self.unknown
    }

    /// Recipients whose outcome is final.
    pub fn settled(&self) -> i64 {
        self.sent + self.failed + self.blocked + self.unknown
    }
}

impl Campaign {
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "done" | "cancelled")
    }

    /// Average rate since the start and the time left at that rate.
    pub fn rate_and_eta(&self, c: &Counts, now: OffsetDateTime) -> (f64, i64) {
        let Some(started) = self.started_at else {
            return (0.0, 0);
        };
        let end = self.finished_at.unwrap_or(now);
        let secs = (end - started).as_seconds_f64();
        if secs < 0.5 || c.settled() == 0 {
            return (0.0, 0);
        }
        let rate = c.settled() as f64 / secs;
        let left = (c.pending + c.sending) as f64 / rate;
        (rate, left.ceil() as i64)
    }

    pub fn to_proto(&self, c: &Counts, now: OffsetDateTime) -> CampaignMsg {
        let (rate, eta_seconds) = if self.status == "running" {
            self.rate_and_eta(c, now)
        } else {
            (self.rate_and_eta(c, now).0, 0)
        };
        let unix = |t: Option<OffsetDateTime>| t.map(|t| t.unix_timestamp()).unwrap_or(0);
        let recurring = self.status == "recurring";
        CampaignMsg {
            id: self.id.to_string(),
            status: self.status.clone(),
            content: Some(self.content.0.clone()),
            audience: Some(self.audience.0.clone()),
            schedule: Some(self.schedule.0.clone()),
            paid: self.paid,
            created_by: self.created_by,
            progress: Some(Progress {
                recipients: self.recipients,
                pending: c.pending,
                sent: c.sent,
                failed: c.failed,
                blocked: c.blocked,
                unknown: c.unknown,
                sending: c.sending,
                rate,
                eta_seconds,
            }),
            title: self.title.clone(),
            created_at: self.created_at.unix_timestamp(),
            run_at: if recurring { 0 } else { unix(self.run_at) },
            started_at: unix(self.started_at),
            finished_at: unix(self.finished_at),
            series_id: self.series_id.map(|s| s.to_string()).unwrap_or_default(),
            next_run_at: if recurring { unix(self.run_at) } else { 0 },
            progress_chat_id: self.progress_chat_id.unwrap_or(0),
        }
    }
}

pub fn parse_id(id: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(id.trim())
        .map_err(|_| ServiceError::InvalidInput(format!("{id:?} is not a campaign id")))
}

pub async fn load(db: &PgPool, id: Uuid) -> Result<Campaign, ServiceError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM campaigns WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ServiceError::NotFound(format!("campaign {id}")))
}

pub async fn count_rows(db: &PgPool, id: Uuid) -> Result<Counts, ServiceError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, count(*) FROM campaign_recipients WHERE campaign_id = $1 GROUP BY state",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    let mut c = Counts::default();
    for (state, n) in rows {
        match state.as_str() {
            "pending" => c.pending = n,
            "sending" => c.sending = n,
            "sent" => c.sent = n,
            "failed" => c.failed = n,
            "blocked" => c.blocked = n,
            "unknown" => c.unknown = n,
            _ => {}
        }
    }
    Ok(c)
}

/// Recent counts of live campaigns, shared by every viewer on this replica:
/// counting a million rows takes ~0.1 s, and each WatchCampaign stream, the
/// progress message and /campaigns would otherwise each run it every second.
#[derive(Default)]
pub struct CountsCache {
    recent: std::sync::Mutex<std::collections::HashMap<Uuid, Recent>>,
}

struct Recent {
    at: std::time::Instant,
    /// Counts are only reused for the same status and recipients: a start,
    /// pause or cancel is seen at once.
    status: String,
    recipients: i64,
    counts: Counts,
}

/// How old shared counts may be.
const COUNTS_TTL: std::time::Duration = std::time::Duration::from_millis(900);

impl CountsCache {
    pub async fn counts(&self, db: &PgPool, c: &Campaign) -> Result<Counts, ServiceError> {
        if let Some(Json(done)) = c.final_counts {
            return Ok(done);
        }
        let now = std::time::Instant::now();
        if let Some(r) = self.recent.lock().expect("counts").get(&c.id)
            && now.duration_since(r.at) < COUNTS_TTL
            && r.status == c.status
            && r.recipients == c.recipients
        {
            return Ok(r.counts);
        }
        let counts = count_rows(db, c.id).await?;
        let mut recent = self.recent.lock().expect("counts");
        recent.retain(|_, r| now.duration_since(r.at) < COUNTS_TTL * 10);
        recent.insert(
            c.id,
            Recent {
                at: now,
                status: c.status.clone(),
                recipients: c.recipients,
                counts,
            },
        );
        Ok(counts)
    }

    pub async fn snapshot(&self, db: &PgPool, id: Uuid) -> Result<CampaignMsg, ServiceError> {
        let c = load(db, id).await?;
        let counts = self.counts(db, &c).await?;
        Ok(c.to_proto(&counts, OffsetDateTime::now_utc()))
    }
}

/// Moves a campaign from one of `from` to `to`; the error says why not when
/// its status allows no such move.
pub async fn transition(
    db: &PgPool,
    id: Uuid,
    from: &[&str],
    to: &str,
    verb: &str,
) -> Result<Campaign, ServiceError> {
    let moved: Option<Campaign> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE campaigns SET status = $2, updated_at = now(),
             finished_at = CASE WHEN $2 IN ('done', 'cancelled') THEN now() ELSE finished_at END
         WHERE id = $1 AND status = ANY($3) RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(to)
    .bind(from)
    .fetch_optional(db)
    .await?;
    match moved {
        Some(c) => Ok(c),
        None => {
            let now = load(db, id).await?;
            Err(ServiceError::Conflict(format!(
                "cannot {verb} a campaign that is {}",
                now.status
            )))
        }
    }
}

/// Whether a recipient is waiting to be sent now (not a retry due later).
pub async fn any_due_pending(db: &PgPool, id: Uuid) -> Result<bool, ServiceError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM campaign_recipients
                        WHERE campaign_id = $1 AND state = 'pending'
                          AND (not_before IS NULL OR not_before <= now()))",
    )
    .bind(id)
    .fetch_one(db)
    .await?)
}

/// Marks a running campaign done once nobody is left to send to, storing its
/// final counts. Returns the campaign when this call finished it.
pub async fn finish_if_drained(db: &PgPool, id: Uuid) -> Result<Option<Campaign>, ServiceError> {
    // Two probes, so each uses its partial index (one IN would scan the table).
    let left: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM campaign_recipients WHERE campaign_id = $1 AND state = 'pending')
             OR EXISTS (SELECT 1 FROM campaign_recipients WHERE campaign_id = $1 AND state = 'sending')",
    )
    .bind(id)
    .fetch_one(db)
    .await?;
    if left {
        return Ok(None);
    }
    let counts = count_rows(db, id).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE campaigns SET status = 'done', finished_at = now(), updated_at = now(), final_counts = $2
         WHERE id = $1 AND status = 'running'
           AND NOT EXISTS (SELECT 1 FROM campaign_recipients WHERE campaign_id = $1 AND state = 'pending')
           AND NOT EXISTS (SELECT 1 FROM campaign_recipients WHERE campaign_id = $1 AND state = 'sending')
         RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(Json(counts))
    .fetch_optional(db)
    .await?)
}

/// Newest first, keyset-paginated by (created_at, id).
pub async fn list(
    db: &PgPool,
    limit: u32,
    before: Option<Uuid>,
) -> Result<Vec<Campaign>, ServiceError> {
    let limit = i64::from(limit.clamp(1, 100));
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM campaigns c
         WHERE $2::uuid IS NULL
            OR (c.created_at, c.id) < (SELECT created_at, id FROM campaigns WHERE id = $2)
         ORDER BY c.created_at DESC, c.id DESC LIMIT $1"
    )))
    .bind(limit)
    .bind(before)
    .fetch_all(db)
    .await?)
}

/// Cancelled campaigns whose last in-flight sends have landed get their final
/// counts (what was never sent stays "pending": not sent, because cancelled).
/// Returns them, so their summary can be shown.
pub async fn settle_cancelled(db: &PgPool) -> Result<Vec<Campaign>, ServiceError> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM campaigns c
         WHERE status = 'cancelled' AND started_at IS NOT NULL AND final_counts IS NULL
           AND NOT EXISTS (SELECT 1 FROM campaign_recipients r
                           WHERE r.campaign_id = c.id AND r.state = 'sending')",
    )
    .fetch_all(db)
    .await?;
    let mut settled = Vec::with_capacity(ids.len());
    for id in ids {
        let counts = count_rows(db, id).await?;
        let c: Option<Campaign> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE campaigns SET final_counts = $2, updated_at = now()
             WHERE id = $1 AND final_counts IS NULL RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(Json(counts))
        .fetch_optional(db)
        .await?;
        settled.extend(c);
    }
    Ok(settled)
}

//! The gRPC API (proto/broadcast.proto): every admin operation on campaigns.
//! Errors are `ServiceError`s, mapped to gRPC codes in one place (runtime).

use crate::engine::{self, Engine};
use crate::store::{self, COLUMNS, Campaign};
use crate::{audience, content, schedule};
use proto::broadcast::broadcast_server::Broadcast as BroadcastRpc;
use proto::broadcast::{
    Audience, Campaign as CampaignMsg, CampaignRef, Content, CountAudienceReply,
    CreateCampaignRequest, ListCampaignsReply, ListCampaignsRequest, Revenue, Schedule,
    ScheduleKind, Segment, SendPreviewReply, SendPreviewRequest, StatsReply, StatsRequest,
    UploadMediaReply, UploadMediaRequest, ValidateContentReply,
};
use runtime::ServiceError;
use serde_json::{Value, json};
use sqlx::types::Json;
use std::time::Duration;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

pub struct BroadcastService {
    pub engine: Engine,
    /// Ends WatchCampaign streams at shutdown.
    pub shutdown: tokio_util::sync::CancellationToken,
}

type Reply<T> = Result<Response<T>, Status>;

fn invalid(m: impl Into<String>) -> ServiceError {
    ServiceError::InvalidInput(m.into())
}

impl BroadcastService {
    fn tz_of(&self, s: &Schedule) -> Result<schedule::Tz, ServiceError> {
        if s.timezone.is_empty() {
            Ok(*self.engine.tz())
        } else {
            schedule::parse_timezone(&s.timezone).map_err(invalid)
        }
    }

    /// When a schedule starts (None for "now"); refuses one that cannot run.
    fn first_run(&self, s: &Schedule) -> Result<Option<OffsetDateTime>, ServiceError> {
        let now = OffsetDateTime::now_utc();
        match ScheduleKind::try_from(s.kind).unwrap_or(ScheduleKind::Unspecified) {
            ScheduleKind::Now => Ok(None),
            ScheduleKind::At => schedule::parse_at(&s.at, &self.tz_of(s)?, now)
                .map(Some)
                .map_err(invalid),
            ScheduleKind::Recurring => {
                let r = schedule::parse_recurring(&s.cron, &self.tz_of(s)?).map_err(invalid)?;
                r.next_after(now)
                    .map(Some)
                    .ok_or_else(|| invalid("this schedule never occurs again"))
            }
            ScheduleKind::Unspecified => {
                Err(invalid("choose when to send: now, at a time, or recurring"))
            }
        }
    }

    /// Updates the progress message in the background: the caller (an admin
    /// pressing a button) is answered without waiting out Telegram's limits.
    fn show_progress(&self, c: Campaign) {
        let progress = self.engine.progress().clone();
        tokio::spawn(async move { progress.update_now(&c).await }.in_current_span());
    }

    async fn change(
        &self,
        r: CampaignRef,
        from: &[&str],
        to: &str,
        verb: &str,
    ) -> Reply<CampaignMsg> {
        let id = store::parse_id(&r.id)?;
        let c = store::transition(self.engine.db(), id, from, to, verb).await?;
        tracing::info!(campaign = %id, actor = r.actor, to, "campaign status changed");
        self.engine.status_changed(id, to);
        self.show_progress(c);
        Ok(Response::new(self.engine.snapshot(id).await?))
    }
}

#[tonic::async_trait]
impl BroadcastRpc for BroadcastService {
    async fn get_stats(&self, _req: Request<StatsRequest>) -> Reply<StatsReply> {
        let db = self.engine.db();
        let (users_total, subscribers_reachable, subscribers, blocked): (i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT count(*), count(*) FILTER (WHERE reachable AND subscribed),
                        count(*) FILTER (WHERE subscribed), count(*) FILTER (WHERE NOT reachable)
                 FROM users",
            )
            .fetch_one(db)
            .await
            .map_err(ServiceError::from)?;
        let buyers: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT user_id) FROM orders WHERE credited_at IS NOT NULL",
        )
        .fetch_one(db)
        .await
        .map_err(ServiceError::from)?;
        let revenue: Vec<(String, String)> = sqlx::query_as(
            "SELECT currency, sum(amount)::text FROM orders WHERE credited_at IS NOT NULL
             GROUP BY currency ORDER BY currency",
        )
        .fetch_all(db)
        .await
        .map_err(ServiceError::from)?;
        let campaigns_sent: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM campaigns WHERE status = 'done' AND started_at IS NOT NULL",
        )
        .fetch_one(db)
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(StatsReply {
            users_total,
            subscribers_reachable,
            subscribers,
            blocked,
            buyers,
            revenue: revenue
                .into_iter()
                .map(|(currency, amount)| Revenue { currency, amount })
                .collect(),
            campaigns_sent,
        }))
    }

    async fn validate_content(&self, req: Request<Content>) -> Reply<ValidateContentReply> {
        let error = content::validate(req.get_ref()).err().unwrap_or_default();
        Ok(Response::new(ValidateContentReply { error }))
    }

    async fn count_audience(&self, req: Request<Audience>) -> Reply<CountAudienceReply> {
        let a = req.into_inner();
        audience::validate(&a)?;
        let recipients =
            audience::count(self.engine.db(), &a, audience::Ids::Given(&a.user_ids)).await?;
        let ignored_ids = if a.segment == Segment::UserIds as i32 {
            let distinct: std::collections::HashSet<i64> = a.user_ids.iter().copied().collect();
            distinct.len() as i64 - recipients
        } else {
            0
        };
        Ok(Response::new(CountAudienceReply {
            recipients,
            ignored_ids,
        }))
    }

    async fn create_campaign(&self, req: Request<CreateCampaignRequest>) -> Reply<CampaignMsg> {
        let r = req.into_inner();
        let content = r
            .content
            .ok_or_else(|| invalid("the campaign has no content"))?;
        content::validate(&content).map_err(invalid)?;
        let mut audience = r
            .audience
            .ok_or_else(|| invalid("the campaign has no audience"))?;
        audience::validate(&audience)?;
        let schedule = r
            .schedule
            .ok_or_else(|| invalid("the campaign has no schedule"))?;
        let run_at = self.first_run(&schedule)?;
        if r.title.chars().count() > 100 {
            return Err(invalid("the title is longer than 100 characters").into());
        }
        let db = self.engine.db();
        let mut tx = db.begin().await.map_err(ServiceError::from)?;
        let list = if audience.segment == Segment::UserIds as i32 {
            let list = audience::store_list(&mut tx, &audience.user_ids).await?;
            // The ids live in audience_lists; the row keeps only how many.
            audience.days = 0;
            audience.user_ids.clear();
            Some(list)
        } else {
            None
        };
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO campaigns (id, status, title, content, audience, schedule, audience_list_id,
                 paid, created_by, run_at, progress_chat_id)
             VALUES ($1, 'draft', $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(r.title.trim())
        .bind(Json(&content))
        .bind(Json(&audience))
        .bind(Json(&schedule))
        .bind(list)
        .bind(r.paid)
        .bind(r.created_by)
        .bind(run_at)
        .bind((r.progress_chat_id != 0).then_some(r.progress_chat_id))
        .execute(&mut *tx)
        .await
        .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        tracing::info!(campaign = %id, created_by = r.created_by, "campaign drafted");
        Ok(Response::new(self.engine.snapshot(id).await?))
    }

    async fn send_preview(&self, req: Request<SendPreviewRequest>) -> Reply<SendPreviewReply> {
        let r = req.into_inner();
        let id = store::parse_id(&r.campaign_id)?;
        let db = self.engine.db();
        let c = store::load(db, id).await?;
        let user: Option<(String, Option<String>, Option<String>, i64)> = sqlx::query_as(
            "SELECT first_name, username, language_code,
                    COALESCE((SELECT sum(delta) FROM ledger WHERE user_id = u.id), 0)::bigint
             FROM users u WHERE id = $1",
        )
        .bind(r.chat_id)
        .fetch_optional(db)
        .await
        .map_err(ServiceError::from)?;
        let (first_name, username, language, balance) =
            user.unwrap_or_else(|| (String::new(), None, None, 0));
        let msg = content::render(
            &c.content.0,
            &content::Recipient {
                first_name: &first_name,
                username: username.as_deref(),
                language: language.as_deref(),
                balance,
            },
        );
        let mut params = msg.params;
        params["chat_id"] = json!(r.chat_id);
        let sent: Value = self
            .engine
            .progress()
            .bot()
            // The admin's chat just got dialog replies: wait out its per-chat limit.
            .call_patiently(msg.method, &params, Duration::from_secs(10))
            .await
            .map_err(|e| match e {
                telegram::TgError::BadRequest { description, .. } => {
                    invalid(format!("Telegram refused the message: {description}"))
                }
                other => ServiceError::Unavailable(format!("telegram: {other}")),
            })?;
        Ok(Response::new(SendPreviewReply {
            message_id: sent.get("message_id").and_then(Value::as_i64).unwrap_or(0),
        }))
    }

    async fn upload_media(&self, req: Request<UploadMediaRequest>) -> Reply<UploadMediaReply> {
        use proto::broadcast::MediaKind;
        let r = req.into_inner();
        let (method, field) = match MediaKind::try_from(r.kind) {
            Ok(MediaKind::Photo) => ("sendPhoto", "photo"),
            Ok(MediaKind::Video) => ("sendVideo", "video"),
            Ok(MediaKind::Document) => ("sendDocument", "document"),
            Ok(MediaKind::Animation) => ("sendAnimation", "animation"),
            _ => return Err(invalid("kind: photo, video, document or animation").into()),
        };
        if r.data.is_empty() {
            return Err(invalid("the file is empty").into());
        }
        if r.chat_id == 0 {
            return Err(invalid("chat_id: the chat to upload into (an admin's own)").into());
        }
        let name = if r.file_name.trim().is_empty() {
            field.to_string()
        } else {
            r.file_name.trim().to_string()
        };
        let sent = self
            .engine
            .progress()
            .bot()
            .send_file(method, field, r.chat_id, r.data, &name)
            .await
            .map_err(|e| match e {
                telegram::TgError::BadRequest { description, .. } => {
                    invalid(format!("Telegram refused the file: {description}"))
                }
                other => ServiceError::Unavailable(format!("telegram: {other}")),
            })?;
        // A photo comes back in several sizes, the largest last.
        let file_id = match field {
            "photo" => sent.photo.last().map(|p| p.file_id.clone()),
            "video" => sent.video.map(|a| a.file_id),
            "animation" => sent.animation.or(sent.document).map(|a| a.file_id),
            _ => sent.document.map(|a| a.file_id),
        }
        .ok_or_else(|| ServiceError::Unavailable("Telegram's answer held no file".into()))?;
        tracing::info!(chat = r.chat_id, method, "media uploaded");
        Ok(Response::new(UploadMediaReply {
            file_id,
            message_id: sent.message_id,
        }))
    }

    async fn start_campaign(&self, req: Request<CampaignRef>) -> Reply<CampaignMsg> {
        let r = req.into_inner();
        let id = store::parse_id(&r.id)?;
        let db = self.engine.db();
        let mut tx = db.begin().await.map_err(ServiceError::from)?;
        let c: Option<Campaign> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM campaigns WHERE id = $1 FOR UPDATE"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(ServiceError::from)?;
        let c = c.ok_or_else(|| ServiceError::NotFound(format!("campaign {id}")))?;
        if c.status != "draft" {
            return Err(ServiceError::Conflict(format!(
                "cannot start a campaign that is {}",
                c.status
            ))
            .into());
        }
        // Checked again: a draft confirmed late may name a time now past.
        let run_at = self.first_run(&c.schedule.0)?;
        let kind = ScheduleKind::try_from(c.schedule.0.kind).unwrap_or(ScheduleKind::Unspecified);
        let started = match (kind, run_at) {
            (ScheduleKind::Now, _) | (_, None) => engine::materialise_and_run(&mut tx, &c).await?,
            (kind, Some(at)) => {
                let status = if kind == ScheduleKind::Recurring {
                    "recurring"
                } else {
                    "scheduled"
                };
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE campaigns SET status = $2, run_at = $3, updated_at = now()
                     WHERE id = $1 RETURNING {COLUMNS}"
                )))
                .bind(id)
                .bind(status)
                .bind(at)
                .fetch_one(&mut *tx)
                .await
                .map_err(ServiceError::from)?
            }
        };
        tx.commit().await.map_err(ServiceError::from)?;
        tracing::info!(campaign = %id, actor = r.actor, status = %started.status, "campaign confirmed");
        self.engine.wake();
        self.show_progress(started);
        Ok(Response::new(self.engine.snapshot(id).await?))
    }

    async fn pause_campaign(&self, req: Request<CampaignRef>) -> Reply<CampaignMsg> {
        self.change(req.into_inner(), &["running"], "paused", "pause")
            .await
    }

    async fn resume_campaign(&self, req: Request<CampaignRef>) -> Reply<CampaignMsg> {
        self.change(req.into_inner(), &["paused"], "running", "resume")
            .await
    }

    async fn cancel_campaign(&self, req: Request<CampaignRef>) -> Reply<CampaignMsg> {
        self.change(
            req.into_inner(),
            &["draft", "scheduled", "recurring", "running", "paused"],
            "cancelled",
            "cancel",
        )
        .await
    }

    async fn get_campaign(&self, req: Request<CampaignRef>) -> Reply<CampaignMsg> {
        let id = store::parse_id(&req.get_ref().id)?;
        Ok(Response::new(self.engine.snapshot(id).await?))
    }

    type WatchCampaignStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<CampaignMsg, Status>> + Send>>;

    async fn watch_campaign(&self, req: Request<CampaignRef>) -> Reply<Self::WatchCampaignStream> {
        let id = store::parse_id(&req.get_ref().id)?;
        let engine = self.engine.clone();
        // An unknown id fails the call itself, not the first stream item.
        store::load(engine.db(), id).await?;
        let shutdown = self.shutdown.clone();
        let stream = futures::stream::unfold(
            (engine, None::<CampaignMsg>, false),
            move |(engine, mut last, over)| {
                let shutdown = shutdown.clone();
                async move {
                    if over {
                        return None;
                    }
                    loop {
                        if last.is_some() {
                            // Shutdown ends the stream: the server can drain.
                            tokio::select! {
                                _ = shutdown.cancelled() => return None,
                                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                        }
                        let c = match engine.snapshot(id).await {
                            Ok(c) => c,
                            Err(e) => return Some((Err(Status::from(e)), (engine, last, true))),
                        };
                        if last.as_ref() != Some(&c) {
                            let ended = matches!(c.status.as_str(), "done" | "cancelled");
                            last = Some(c.clone());
                            return Some((Ok(c), (engine, last, ended)));
                        }
                    }
                }
            },
        );
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_campaigns(
        &self,
        req: Request<ListCampaignsRequest>,
    ) -> Reply<ListCampaignsReply> {
        let r = req.into_inner();
        let before = if r.before_id.is_empty() {
            None
        } else {
            Some(store::parse_id(&r.before_id)?)
        };
        let limit = if r.limit == 0 { 20 } else { r.limit };
        let db = self.engine.db();
        let now = OffsetDateTime::now_utc();
        let mut campaigns = Vec::new();
        for c in store::list(db, limit, before).await? {
            let counts = self.engine.counts(&c).await?;
            campaigns.push(c.to_proto(&counts, now));
        }
        Ok(Response::new(ListCampaignsReply { campaigns }))
    }
}

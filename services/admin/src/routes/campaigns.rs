//! Campaigns and audiences: a thin layer over the broadcast service's gRPC
//! API (`ManageCampaigns` to change, `ReadCampaigns` to look). The service
//! checks content, audiences, schedules and status transitions; its refusals
//! come back as 400/404/409 with its own message. Every change is audited.

use crate::app::AppState;
use crate::auth::Caller;
use crate::campaigns::{AudienceIn, CampaignOut, NewCampaign};
use crate::error::{ApiError, ApiResult, Body, Params};
use crate::export;
use crate::roles::Permission;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, TryStreamExt};
use proto::audience_list;
use proto::broadcast as pb;
use runtime::ServiceError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

async fn audit(
    s: &AppState,
    caller: &Caller,
    action: &str,
    id: &str,
    details: Value,
) -> ApiResult<()> {
    caller
        .audit(&s.db, action, format!("campaign:{id}"), details)
        .await?;
    Ok(())
}

fn campaign_ref(id: &str, caller: &Caller) -> pb::CampaignRef {
    pb::CampaignRef {
        id: id.to_string(),
        actor: caller.admin_id,
    }
}

/// `POST /audiences/count`: how many users an audience selects right now.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AudienceCount {
    recipients: i64,
    /// For a user_ids audience: ids that are not subscribed, reachable users.
    ignored_ids: i64,
}

#[utoipa::path(post, path = "/audiences/count", tag = "campaigns", operation_id = "count_audience", request_body = AudienceIn, responses((status = 200, description = "Who it would reach now", body = AudienceCount), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 503, description = "A service behind this one is unavailable; retry", body = crate::openapi::ErrorBody)))]
pub async fn count(
    State(s): State<AppState>,
    caller: Caller,
    Body(audience): Body<AudienceIn>,
) -> ApiResult<Json<AudienceCount>> {
    caller.require(Permission::ManageCampaigns)?;
    let a = audience.to_proto().map_err(ApiError::invalid)?;
    let r = s
        .broadcast
        .clone()
        .count_audience(a)
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    Ok(Json(AudienceCount {
        recipients: r.recipients,
        ignored_ids: r.ignored_ids,
    }))
}

/// `POST /audiences/ids`: an uploaded text or CSV list of user ids (the body
/// as is, up to 5 MiB), parsed the way the bot parses one. Garbage lines
/// refuse the whole list, naming the first of them; nothing is stored. The
/// answer carries the ids to put in a `user_ids` audience, and the count.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UploadedList {
    /// The list's ids, deduplicated, in its order: a `user_ids` audience.
    user_ids: Vec<i64>,
    duplicates: usize,
    /// The first line, when it held no id.
    header: Option<String>,
    recipients: i64,
    ignored_ids: i64,
}

#[utoipa::path(post, path = "/audiences/ids", tag = "campaigns", operation_id = "upload_id_list", request_body(content = String, content_type = "text/plain", description = "A text or CSV list of user ids, up to 5 MiB; one header line allowed"), responses((status = 200, description = "The ids, for a user_ids audience", body = UploadedList), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 413, description = "Over 5 MiB")))]
pub async fn upload_ids(
    State(s): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> ApiResult<Json<UploadedList>> {
    caller.require(Permission::ManageCampaigns)?;
    let list = audience_list::parse_id_list(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
    let audience = pb::Audience {
        segment: pb::Segment::UserIds as i32,
        user_ids: list.ids.clone(),
        ..Default::default()
    };
    let r = s
        .broadcast
        .clone()
        .count_audience(audience)
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    Ok(Json(UploadedList {
        user_ids: list.ids,
        duplicates: list.duplicates,
        header: list.header,
        recipients: r.recipients,
        ignored_ids: r.ignored_ids,
    }))
}

/// Photos, videos, documents and animations up to this size (what nginx
/// lets through to the admin API; Telegram's own limit for a photo is 10 MB).
pub const MAX_MEDIA_BYTES: usize = 5 * 1024 * 1024;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MediaQuery {
    /// photo, video, document or animation
    kind: crate::campaigns::MediaKind,
    /// The chat it is sent to (your own Telegram id; you see it arrive).
    chat_id: i64,
    /// The file's name, as a document shows it.
    name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// For `content.media.file_id`.
    file_id: String,
    message_id: i64,
}

#[utoipa::path(post, path = "/media", tag = "campaigns", operation_id = "upload_media", params(MediaQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file, up to 5 MiB"), responses((status = 200, description = "Sent to that chat; its file_id is ready for a campaign", body = Uploaded), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this", body = crate::openapi::ErrorBody), (status = 413, description = "Over 5 MiB"), (status = 503, description = "Telegram or the broadcast service is unavailable", body = crate::openapi::ErrorBody)))]
pub async fn upload_media(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<MediaQuery>,
    body: Bytes,
) -> ApiResult<Json<Uploaded>> {
    use crate::campaigns::MediaKind as K;
    caller.require(Permission::ManageCampaigns)?;
    let kind = match q.kind {
        K::Photo => pb::MediaKind::Photo,
        K::Video => pb::MediaKind::Video,
        K::Document => pb::MediaKind::Document,
        K::Animation => pb::MediaKind::Animation,
    };
    let size = body.len();
    let r = s
        .broadcast
        .clone()
        .upload_media(pb::UploadMediaRequest {
            kind: kind as i32,
            data: body.to_vec(),
            file_name: q.name.clone().unwrap_or_default(),
            chat_id: q.chat_id,
        })
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    caller
        .audit(
            &s.db,
            "media.upload",
            format!("file:{}", r.file_id),
            json!({ "kind": q.kind, "bytes": size, "chat_id": q.chat_id }),
        )
        .await?;
    Ok(Json(Uploaded {
        file_id: r.file_id,
        message_id: r.message_id,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The previous page's `next`.
    before: Option<Uuid>,
    limit: Option<u32>,
}

/// `GET /campaigns`: newest first, scheduled and recurring ones included.
/// Newest first; `next` is the `before` of the next page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CampaignsPage {
    items: Vec<CampaignOut>,
    next: Option<String>,
}

#[utoipa::path(get, path = "/campaigns", tag = "campaigns", operation_id = "list_campaigns", params(ListQuery), responses((status = 200, description = "Newest first", body = CampaignsPage), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 503, description = "A service behind this one is unavailable; retry", body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> ApiResult<Json<CampaignsPage>> {
    caller.require(Permission::ReadCampaigns)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit {limit}: must be between 1 and 100"
        )));
    }
    let reply = s
        .broadcast
        .clone()
        .list_campaigns(pb::ListCampaignsRequest {
            limit: limit + 1,
            before_id: q.before.map(|u| u.to_string()).unwrap_or_default(),
        })
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    let (items, next) = super::keyset(reply.campaigns, limit as i64, |c| c.id.clone());
    let items = items.into_iter().map(CampaignOut::from).collect();
    Ok(Json(CampaignsPage { items, next }))
}

/// `POST /campaigns`: a draft; nothing is sent until `/start`.
#[utoipa::path(post, path = "/campaigns", tag = "campaigns", operation_id = "create_campaign", request_body = NewCampaign, responses((status = 201, description = "A draft; nothing is sent until start", body = CampaignOut), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 503, description = "A service behind this one is unavailable; retry", body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Body(req): Body<NewCampaign>,
) -> ApiResult<(StatusCode, Json<CampaignOut>)> {
    caller.require(Permission::ManageCampaigns)?;
    let content = req.content.to_proto().map_err(ApiError::invalid)?;
    let audience = req.audience.to_proto().map_err(ApiError::invalid)?;
    let created = s
        .broadcast
        .clone()
        .create_campaign(pb::CreateCampaignRequest {
            content: Some(content),
            audience: Some(audience),
            schedule: Some(req.schedule.to_proto()),
            paid: req.paid,
            // A Telegram id; an API-made campaign has none (the audit log names the admin).
            created_by: 0,
            progress_chat_id: 0,
            title: req.title,
        })
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    let out = CampaignOut::from(created);
    let details = json!({
        "title": out.title, "audience": out.audience, "schedule": out.schedule, "paid": out.paid,
    });
    audit(&s, &caller, "campaign.create", &out.id, details).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Failure {
    /// As Telegram said it.
    reason: Option<String>,
    count: i64,
}

/// A campaign with its failures grouped by reason (at most 50 reasons).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CampaignDetail {
    #[serde(flatten)]
    campaign: CampaignOut,
    failures: Vec<Failure>,
}

/// `GET /campaigns/{id}`: the campaign, its counts, and its failures by reason.
#[utoipa::path(get, path = "/campaigns/{id}", tag = "campaigns", operation_id = "get_campaign", params(("id" = uuid::Uuid, Path)), responses((status = 200, description = "The campaign, its counts and failures by reason", body = CampaignDetail), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<CampaignDetail>> {
    caller.require(Permission::ReadCampaigns)?;
    let c = s
        .broadcast
        .clone()
        .get_campaign(campaign_ref(&id.to_string(), &caller))
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    let failures: Vec<Failure> = sqlx::query_as(
        "SELECT error AS reason, count(*) AS count FROM campaign_recipients
         WHERE campaign_id = $1 AND state = 'failed'
         GROUP BY error ORDER BY count(*) DESC, error LIMIT 50",
    )
    .bind(id)
    .fetch_all(&s.db)
    .await?;
    Ok(Json(CampaignDetail {
        campaign: CampaignOut::from(c),
        failures,
    }))
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Start,
    Pause,
    Resume,
    Cancel,
}

/// `POST /campaigns/{id}/{start|pause|resume|cancel}`.
#[utoipa::path(post, path = "/campaigns/{id}/{action}", tag = "campaigns", operation_id = "campaign_action", params(("id" = uuid::Uuid, Path), ("action" = String, Path, description = "start, pause, resume or cancel")), responses((status = 200, description = "The campaign after the change", body = CampaignOut), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody), (status = 409, description = "Not allowed in its current state", body = crate::openapi::ErrorBody), (status = 503, description = "A service behind this one is unavailable; retry", body = crate::openapi::ErrorBody)))]
pub async fn act(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(Uuid, String)>,
) -> ApiResult<Json<CampaignOut>> {
    caller.require(Permission::ManageCampaigns)?;
    let action: Action = serde_json::from_value(Value::String(action.clone())).map_err(|_| {
        ApiError::not_found(format!(
            "no action {action:?}: expected start, pause, resume or cancel"
        ))
    })?;
    let r = campaign_ref(&id.to_string(), &caller);
    let mut b = s.broadcast.clone();
    let (name, reply) = match action {
        Action::Start => ("campaign.start", b.start_campaign(r).await),
        Action::Pause => ("campaign.pause", b.pause_campaign(r).await),
        Action::Resume => ("campaign.resume", b.resume_campaign(r).await),
        Action::Cancel => ("campaign.cancel", b.cancel_campaign(r).await),
    };
    let out = CampaignOut::from(reply.map_err(ServiceError::from)?.into_inner());
    let details = json!({ "status": out.status, "recipients": out.progress.recipients });
    audit(&s, &caller, name, &out.id, details).await?;
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewReq {
    /// The Telegram chat that receives the preview (an admin's own).
    chat_id: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PreviewSent {
    /// The preview's message id in that chat.
    message_id: i64,
}

/// `POST /campaigns/{id}/preview`: the message exactly as a recipient sees
/// it, sent to one chat and counted nowhere.
#[utoipa::path(post, path = "/campaigns/{id}/preview", tag = "campaigns", operation_id = "preview_campaign", params(("id" = uuid::Uuid, Path)), request_body = PreviewReq, responses((status = 200, description = "Sent to that chat, counted nowhere", body = PreviewSent), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody), (status = 503, description = "A service behind this one is unavailable; retry", body = crate::openapi::ErrorBody)))]
pub async fn preview(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Body(req): Body<PreviewReq>,
) -> ApiResult<Json<PreviewSent>> {
    caller.require(Permission::ManageCampaigns)?;
    let r = s
        .broadcast
        .clone()
        .send_preview(pb::SendPreviewRequest {
            campaign_id: id.to_string(),
            chat_id: req.chat_id,
        })
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    let id = id.to_string();
    audit(
        &s,
        &caller,
        "campaign.preview",
        &id,
        json!({ "chat_id": req.chat_id }),
    )
    .await?;
    Ok(Json(PreviewSent {
        message_id: r.message_id,
    }))
}

/// `GET /campaigns/{id}/events`: server-sent events, one `progress` event
/// with the whole campaign now and at every change (at most about once a
/// second), the stream ending after the campaign does. The same counts the
/// bot's progress message shows.
#[utoipa::path(get, path = "/campaigns/{id}/events", tag = "campaigns", operation_id = "watch_campaign", params(("id" = uuid::Uuid, Path)), responses((status = 200, description = "Server-sent events: `progress`, data a CampaignOut, now and at each change, until the campaign ends", content_type = "text/event-stream", body = String), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody)))]
pub async fn events(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    caller.require(Permission::ReadCampaigns)?;
    let stream = s
        .watch
        .clone()
        .watch_campaign(campaign_ref(&id.to_string(), &caller))
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    let events = progress_events(stream);
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)));
    // nginx would otherwise hold events back in its proxy buffer.
    Ok(([("x-accel-buffering", "no")], sse).into_response())
}

fn progress_events(
    stream: tonic::Streaming<pb::Campaign>,
) -> impl Stream<Item = Result<Event, std::convert::Infallible>> {
    stream
        .map_err(|status| {
            tracing::warn!(code = ?status.code(), message = status.message(), "campaign watch ended");
        })
        .take_while(|r| futures::future::ready(r.is_ok()))
        .filter_map(|r| {
            futures::future::ready(r.ok().and_then(|c| {
                Event::default()
                    .event("progress")
                    .json_data(CampaignOut::from(c))
                    .ok()
            }))
        })
        .map(Ok)
}

#[derive(Serialize, sqlx::FromRow)]
pub struct RecipientRow {
    user_id: i64,
    /// pending, sending, sent, failed, blocked, unknown
    state: String,
    attempts: i32,
    #[serde(with = "time::serde::rfc3339::option")]
    sent_at: Option<OffsetDateTime>,
    /// Telegram's message id in the recipient's chat, when sent.
    message_id: Option<i64>,
    /// Why it failed or was blocked, as Telegram said it.
    error: Option<String>,
}

/// `GET /campaigns/{id}/recipients.csv`: one line per recipient, by user id,
/// streamed (a million-recipient campaign is never held in memory).
#[utoipa::path(get, path = "/campaigns/{id}/recipients.csv", tag = "campaigns", operation_id = "export_recipients", params(("id" = uuid::Uuid, Path)), responses((status = 200, description = "One line per recipient: user_id, state, attempts, sent_at, message_id, error", content_type = "text/csv", body = String), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody)))]
pub async fn recipients_csv(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    caller.require(Permission::ReadCampaigns)?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM campaigns WHERE id = $1)")
        .bind(id)
        .fetch_one(&s.db)
        .await?;
    if !exists {
        return Err(ApiError::not_found(format!("campaign {id}")));
    }
    let select = sqlx::query_as::<_, RecipientRow>(
        "SELECT user_id, state, attempts, sent_at, message_id, error
         FROM campaign_recipients WHERE campaign_id = $1 ORDER BY user_id",
    )
    .bind(id);
    Ok(export::rows(&format!("campaign-{id}.csv"), s.db, select))
}

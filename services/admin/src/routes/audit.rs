//! `GET /audit` and `GET /audit.csv`: the audit log, newest first (`ReadAudit`).

use crate::app::AppState;
use crate::audit::{self, Record};
use crate::auth::Caller;
use crate::error::{ApiResult, Params};
use crate::export;
use crate::roles::Permission;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Query {
    /// Entries older than this id (the previous page's `next`).
    before: Option<i64>,
    /// Exactly this action (`campaign.start`).
    action: Option<String>,
    /// Entries whose actor contains this, in any case (`alice`, `telegram:`).
    actor: Option<String>,
    /// Entries whose target contains this, in any case (`user:701`, a campaign id).
    target: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Page {
    items: Vec<Record>,
    /// Pass as `before` for the next page; absent on the last one.
    next: Option<i64>,
}

#[utoipa::path(get, path = "/audit", tag = "audit", operation_id = "list_audit", params(Query), responses((status = 200, description = "A page of entries, newest first", body = Page), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<Query>,
) -> ApiResult<Json<Page>> {
    caller.require(Permission::ReadAudit)?;
    let limit = super::page_size(q.limit)?;
    let filter = audit::Filter {
        action: q.action,
        actor: q.actor,
        target: q.target,
    };
    let rows = audit::select::<Record>(&filter, q.before, limit + 1)
        .fetch_all(&s.db)
        .await?;
    let (items, next) = super::keyset(rows, limit, |r| r.id);
    Ok(Json(Page { items, next }))
}

/// One audit entry as a CSV line: the details as their JSON text.
#[derive(Serialize, sqlx::FromRow)]
pub struct Line {
    id: i64,
    #[serde(with = "time::serde::rfc3339")]
    at: time::OffsetDateTime,
    actor: String,
    action: String,
    target: Option<String>,
    #[serde(serialize_with = "json_text")]
    details: serde_json::Value,
    address: Option<String>,
}

fn json_text<S: serde::Serializer>(v: &serde_json::Value, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// `GET /audit.csv`: the entries the filter selects (all by default), newest first, streamed.
#[utoipa::path(get, path = "/audit.csv", tag = "audit", operation_id = "export_audit", params(audit::Filter), responses((status = 200, description = "The whole log, streamed", content_type = "text/csv", body = String), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn export(
    State(s): State<AppState>,
    caller: Caller,
    Params(filter): Params<audit::Filter>,
) -> ApiResult<Response> {
    caller.require(Permission::ReadAudit)?;
    let select = audit::select::<Line>(&filter, None, i64::MAX);
    Ok(export::rows("audit.csv", s.db, select))
}

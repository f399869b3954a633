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
    action: Option<String>,
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
    let rows = audit::page(&s.db, q.before, q.action.as_deref(), limit + 1).await?;
    let (items, next) = super::keyset(rows, limit, |r| r.id);
    Ok(Json(Page { items, next }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    action: Option<String>,
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
    details: String,
    address: Option<String>,
}

/// `GET /audit.csv`: the whole log (or one action), newest first, streamed.
#[utoipa::path(get, path = "/audit.csv", tag = "audit", operation_id = "export_audit", params(ExportQuery), responses((status = 200, description = "The whole log, streamed", content_type = "text/csv", body = String), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn export(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<ExportQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::ReadAudit)?;
    let select = sqlx::query_as::<_, Line>(
        "SELECT id, at, actor, action, target, details::text AS details, address FROM audit_log
         WHERE ($1::text IS NULL OR action = $1) ORDER BY id DESC",
    )
    .bind(q.action);
    Ok(export::rows("audit.csv", s.db, select))
}

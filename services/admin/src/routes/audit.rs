//! `GET /audit`: the audit log, newest first (`ReadAudit`).

use crate::app::AppState;
use crate::audit::{self, Record};
use crate::auth::Caller;
use crate::error::{ApiResult, Params};
use crate::roles::Permission;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Entries older than this id (the previous page's `next`).
    before: Option<i64>,
    action: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Page {
    items: Vec<Record>,
    /// Pass as `before` for the next page; absent on the last one.
    next: Option<i64>,
}

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

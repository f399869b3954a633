//! Owners invite, re-role and remove admins (`ManageAdmins`).

use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{self as a, Caller};
use crate::error::{ApiError, ApiResult, Body};
use crate::roles::{Permission, Role};
use crate::store::{self, AdminView};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;

/// The first owner, from `ADMIN_OWNER_LOGIN`/`_PASSWORD`, when no admin
/// exists yet; later starts change nothing (a changed password in the
/// environment does not overwrite one set since).
pub async fn create_first_owner(db: &PgPool, login: &str, password: &str) -> anyhow::Result<()> {
    if store::count_admins(db).await? > 0 {
        return Ok(());
    }
    let hash = a::hash_password(password)?;
    if let Some(id) = store::create_admin(db, login, &hash, Role::Owner).await? {
        audit::append(
            db,
            Entry {
                actor: "system",
                action: "admin.create",
                target: Some(format!("admin:{id} {login}")),
                details: json!({ "role": "owner", "from": "ADMIN_OWNER_LOGIN" }),
                address: std::net::Ipv4Addr::LOCALHOST.into(),
            },
        )
        .await?;
        tracing::info!(login, "first owner created");
    }
    Ok(())
}

pub async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<AdminView>>> {
    caller.require(Permission::ManageAdmins)?;
    Ok(Json(store::list_admins(&s.db).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    login: String,
    password: String,
    role: Role,
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Body(req): Body<NewAdmin>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    caller.require(Permission::ManageAdmins)?;
    a::check_login_name(&req.login).map_err(ApiError::invalid)?;
    a::check_password(&req.password).map_err(ApiError::invalid)?;
    let password = req.password;
    let hash = tokio::task::spawn_blocking(move || a::hash_password(&password))
        .await
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))??;
    let id = store::create_admin(&s.db, &req.login, &hash, req.role)
        .await?
        .ok_or_else(|| ApiError::conflict(format!("login {:?} is taken", req.login)))?;
    audit::append(
        &s.db,
        Entry {
            actor: &caller.actor(),
            action: "admin.create",
            target: Some(format!("admin:{id} {}", req.login)),
            details: json!({ "role": req.role }),
            address: caller.address,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "login": req.login, "role": req.role })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    role: Role,
}

pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(req): Body<Change>,
) -> ApiResult<StatusCode> {
    let details = json!({ "role": req.role });
    apply(&s, &caller, id, store::Change::SetRole(req.role), details).await
}

/// Removes the admin and revokes their sessions at once.
pub async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    apply(&s, &caller, id, store::Change::Remove, json!({})).await
}

async fn apply(
    s: &AppState,
    caller: &Caller,
    id: i64,
    change: store::Change,
    details: serde_json::Value,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ManageAdmins)?;
    match store::change_admin(&s.db, id, change).await? {
        None => return Err(ApiError::not_found(format!("admin {id}"))),
        Some(Err(why)) => return Err(ApiError::conflict(why)),
        Some(Ok(())) => {}
    }
    let action = match change {
        store::Change::SetRole(_) => "admin.set_role",
        store::Change::Remove => "admin.remove",
    };
    audit::append(
        &s.db,
        Entry {
            actor: &caller.actor(),
            action,
            target: Some(format!("admin:{id}")),
            details,
            address: caller.address,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

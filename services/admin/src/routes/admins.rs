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

#[utoipa::path(get, path = "/admins", tag = "admins", operation_id = "list_admins", responses((status = 200, description = "Every admin", body = Vec<AdminView>), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<AdminView>>> {
    caller.require(Permission::ManageAdmins)?;
    Ok(Json(store::list_admins(&s.db).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    login: String,
    password: String,
    role: Role,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Created {
    id: i64,
    login: String,
    role: Role,
}

#[utoipa::path(post, path = "/admins", tag = "admins", operation_id = "create_admin", request_body = NewAdmin, responses((status = 201, description = "Invited", body = Created), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 409, description = "Not allowed in its current state", body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Body(req): Body<NewAdmin>,
) -> ApiResult<(StatusCode, Json<Created>)> {
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
    caller
        .audit(
            &s.db,
            "admin.create",
            format!("admin:{id} {}", req.login),
            json!({ "role": req.role }),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id,
            login: req.login,
            role: req.role,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    role: Role,
}

#[utoipa::path(patch, path = "/admins/{id}", tag = "admins", operation_id = "set_admin_role", params(("id" = i64, Path)), request_body = Change, responses((status = 204, description = "Role changed; it applies to their next request"), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody), (status = 409, description = "Not allowed in its current state", body = crate::openapi::ErrorBody)))]
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
#[utoipa::path(delete, path = "/admins/{id}", tag = "admins", operation_id = "remove_admin", params(("id" = i64, Path)), responses((status = 204, description = "Removed; their sessions end at once"), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody), (status = 409, description = "Not allowed in its current state", body = crate::openapi::ErrorBody)))]
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
    caller
        .audit(&s.db, action, format!("admin:{id}"), details)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Sign-in, token refresh, sign-out and `/me`.

use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{self as a, Address, Caller};
use crate::error::{ApiError, ApiResult, Body};
use crate::store::{self, Rotation};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::IpAddr;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    login: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Tokens {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    role: crate::roles::Role,
}

fn tokens(
    s: &AppState,
    admin_id: i64,
    role: crate::roles::Role,
    session: uuid::Uuid,
    refresh_token: String,
) -> ApiResult<Tokens> {
    Ok(Tokens {
        access_token: a::issue_access(s, admin_id, session)?,
        token_type: "Bearer",
        expires_in: s.cfg.auth.access_ttl.as_secs(),
        refresh_token,
        role,
    })
}

/// `POST /auth/login`: a wrong login and a wrong password get the same 401.
#[utoipa::path(post, path = "/auth/login", tag = "auth", operation_id = "login", request_body = Login, responses((status = 200, description = "Signed in", body = Tokens), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 429, description = "Too many attempts; see Retry-After", body = crate::openapi::ErrorBody)), security(()))]
pub async fn login(
    State(s): State<AppState>,
    Address(ip): Address,
    Body(req): Body<Login>,
) -> ApiResult<Json<Tokens>> {
    let ok = sign_in(&s, ip, &req.login, req.password).await?;
    Ok(Json(tokens(
        &s,
        ok.admin_id,
        ok.role,
        ok.session,
        ok.secret,
    )?))
}

/// A successful sign-in: a new session and its secret (the API's first
/// refresh token, or the console's cookie).
pub struct SignedIn {
    pub admin_id: i64,
    pub role: crate::roles::Role,
    pub session: uuid::Uuid,
    pub secret: String,
}

/// Checks a password and opens a session. Limited per client address
/// (Redis) and per account (a lockout after `ADMIN_LOGIN_MAX_FAILURES`
/// failures), each attempt audited. The API and the console both sign in here.
pub async fn sign_in(
    s: &AppState,
    ip: IpAddr,
    login: &str,
    password: String,
) -> ApiResult<SignedIn> {
    let per_ip = s
        .cache
        .rate_limit(
            &format!("admin-login:{ip}"),
            cache::RateLimit {
                per_minute: s.cfg.auth.login_per_minute,
                burst: s.cfg.auth.login_per_minute,
            },
        )
        .await?;
    if !per_ip.allowed {
        return Err(ApiError::TooMany(
            "too many sign-in attempts from this address; try again later",
            per_ip.retry_after,
        ));
    }
    let found = store::credentials(&s.db, login).await?;
    let now = time::OffsetDateTime::now_utc();
    if let Some(c) = &found
        && let Some(until) = c.locked_until
        && until > now
    {
        note(s, login, "auth.login_locked", ip).await?;
        return Err(locked(until - now));
    }
    // Verified on a blocking thread: argon2 takes tens of milliseconds of CPU.
    let hash = found.as_ref().map(|c| c.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || a::verify_password(hash.as_deref(), &password))
        .await
        .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
    let Some(c) = found else {
        note(s, login, "auth.login_failed", ip).await?;
        return Err(ApiError::unauthorized());
    };
    if !ok {
        let locked_until =
            store::record_failure(&s.db, c.id, s.cfg.auth.max_failures, s.cfg.auth.lockout).await?;
        if let Some(until) = locked_until {
            note(s, login, "auth.locked", ip).await?;
            return Err(locked(until - now));
        }
        note(s, login, "auth.login_failed", ip).await?;
        return Err(ApiError::unauthorized());
    }
    store::reset_failures(&s.db, c.id).await?;
    let (secret, digest) = a::new_refresh_token();
    let session = store::create_session(
        &s.db,
        c.id,
        &digest,
        s.cfg.auth.refresh_ttl,
        &ip.to_string(),
    )
    .await?;
    audit::append(
        &s.db,
        Entry {
            actor: &format!("admin:{} {}", c.id, c.login),
            action: "auth.login",
            target: Some(format!("session:{session}")),
            details: json!({}),
            address: ip,
        },
    )
    .await?;
    Ok(SignedIn {
        admin_id: c.id,
        role: c.role,
        session,
        secret,
    })
}

fn locked(left: time::Duration) -> ApiError {
    ApiError::TooMany(
        "this account is locked after repeated failed sign-ins; try again later",
        left.try_into().unwrap_or_default(),
    )
}

/// Sign-in attempts that did not succeed: the login tried is the target (no
/// password, right or wrong, is ever written down).
async fn note(s: &AppState, login: &str, action: &str, ip: IpAddr) -> ApiResult<()> {
    let login: String = login.chars().take(64).collect();
    audit::append(
        &s.db,
        Entry {
            actor: "anonymous",
            action,
            target: Some(format!("login:{login}")),
            details: json!({}),
            address: ip,
        },
    )
    .await?;
    Ok(())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    refresh_token: String,
}

/// `POST /auth/refresh`: the refresh token is replaced at every use. A token
/// already replaced, presented again, revokes its session (one of the two
/// holders is not its owner).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", operation_id = "refresh", request_body = Refresh, responses((status = 200, description = "New tokens; the refresh token presented is replaced", body = Tokens), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody)), security(()))]
pub async fn refresh(
    State(s): State<AppState>,
    Address(ip): Address,
    Body(req): Body<Refresh>,
) -> ApiResult<Json<Tokens>> {
    let (next, next_digest) = a::new_refresh_token();
    match store::rotate(
        &s.db,
        &a::digest(req.refresh_token.trim()),
        &next_digest,
        s.cfg.auth.refresh_ttl,
    )
    .await?
    {
        Rotation::Rotated {
            session,
            admin_id,
            role,
        } => Ok(Json(tokens(&s, admin_id, role, session, next)?)),
        Rotation::Reused { admin_id } => {
            audit::append(
                &s.db,
                Entry {
                    actor: "anonymous",
                    action: "auth.refresh_reused",
                    target: Some(format!("admin:{admin_id}")),
                    details: json!({ "revoked": "session" }),
                    address: ip,
                },
            )
            .await?;
            Err(ApiError::unauthorized())
        }
        Rotation::Refused => Err(ApiError::unauthorized()),
    }
}

/// `POST /auth/logout`: the session ends; its access and refresh tokens are
/// refused from now on.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", operation_id = "logout", responses((status = 204, description = "The session is over"), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn logout(State(s): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    sign_out(&s, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the caller's session (API or console), audited.
pub async fn sign_out(s: &AppState, caller: &Caller) -> ApiResult<()> {
    store::revoke_session(&s.db, caller.session).await?;
    caller
        .audit(
            &s.db,
            "auth.logout",
            format!("session:{}", caller.session),
            json!({}),
        )
        .await?;
    Ok(())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    id: i64,
    login: String,
    role: crate::roles::Role,
}

/// `GET /me`: who the token belongs to.
#[utoipa::path(get, path = "/me", tag = "auth", operation_id = "me", responses((status = 200, description = "Who the token belongs to", body = Me), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        id: caller.admin_id,
        login: caller.login,
        role: caller.role,
    })
}

//! What support does for a customer (`SupportCustomers`): notes on the
//! customer, and an open order's payment link sent to them again (through
//! the payments service, which owns orders and speaks to the buyer).

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Body};
use crate::roles::Permission;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use runtime::ServiceError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

pub const MAX_NOTE_CHARS: usize = 2000;

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Note {
    id: i64,
    author: String,
    body: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

/// The latest 50 notes on a user, newest first.
pub async fn notes_of(db: &PgPool, user_id: i64) -> sqlx::Result<Vec<Note>> {
    sqlx::query_as(
        "SELECT id, author, body, created_at FROM customer_notes
         WHERE user_id = $1 ORDER BY id DESC LIMIT 50",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    text: String,
}

/// `POST /users/{id}/notes` {text}.
#[utoipa::path(post, path = "/users/{id}/notes", tag = "customers", operation_id = "add_note", params(("id" = i64, Path)), request_body = NewNote, responses((status = 201, description = "Noted", body = Note), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody)))]
pub async fn add_note(
    State(s): State<AppState>,
    caller: Caller,
    Path(user_id): Path<i64>,
    Body(req): Body<NewNote>,
) -> ApiResult<(StatusCode, Json<Note>)> {
    caller.require(Permission::SupportCustomers)?;
    let text = req.text.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_NOTE_CHARS {
        return Err(ApiError::invalid(format!(
            "text: 1 to {MAX_NOTE_CHARS} characters, not {chars}"
        )));
    }
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
        .bind(user_id)
        .fetch_one(&s.db)
        .await?;
    if !known {
        return Err(ApiError::not_found(format!("user {user_id}")));
    }
    let note: Note = sqlx::query_as(
        "INSERT INTO customer_notes (user_id, author, body) VALUES ($1, $2, $3)
         RETURNING id, author, body, created_at",
    )
    .bind(user_id)
    .bind(caller.actor())
    .bind(text)
    .fetch_one(&s.db)
    .await?;
    caller
        .audit(
            &s.db,
            "customer.note",
            format!("user:{user_id}"),
            json!({ "note": note.id }),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(note)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Resent {
    order_id: String,
    /// The order's status (open: new or pending).
    status: String,
}

/// `POST /orders/{id}/resend-link`: the buyer gets the open order's payment
/// link again; 409 when the order is paid, closed or its invoice expired.
#[utoipa::path(post, path = "/orders/{id}/resend-link", tag = "orders", operation_id = "resend_pay_link", params(("id" = uuid::Uuid, Path)), responses((status = 200, description = "The buyer was sent the link", body = Resent), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody), (status = 409, description = "Not allowed in its current state", body = crate::openapi::ErrorBody), (status = 503, description = "A service behind this one is unavailable; retry", body = crate::openapi::ErrorBody)))]
pub async fn resend_link(
    State(s): State<AppState>,
    caller: Caller,
    Path(order_id): Path<Uuid>,
) -> ApiResult<Json<Resent>> {
    caller.require(Permission::SupportCustomers)?;
    let order = s
        .payments
        .clone()
        .resend_payment_link(proto::payments::ResendPaymentLinkRequest {
            order_id: order_id.to_string(),
        })
        .await
        .map_err(ServiceError::from)?
        .into_inner();
    caller
        .audit(
            &s.db,
            "order.resend_link",
            format!("order:{order_id}"),
            json!({ "status": order.status }),
        )
        .await?;
    Ok(Json(Resent {
        order_id: order.order_id,
        status: order.status,
    }))
}

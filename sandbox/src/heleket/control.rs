//! `/_sandbox/` control routes so the demo (another process) can drive the fake, and the
//! `/pay/{uuid}` page an invoice's `url` points at.

use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Mode, State};

pub(crate) fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/_sandbox/pay", post(pay))
        .route("/_sandbox/invoices", get(invoices))
        .route("/_sandbox/mode", get(get_mode).post(set_mode))
        .route("/_sandbox/requests", get(requests).delete(clear_requests))
        .route("/pay/{uuid}", get(pay_page))
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

#[derive(Deserialize)]
struct PayBody {
    order_id: String,
    status: Option<String>,
}

async fn pay(
    AxState(state): AxState<Arc<State>>,
    axum::Json(body): axum::Json<PayBody>,
) -> Response {
    let status = body.status.as_deref().unwrap_or("paid");
    if let Err(err) = state.set_status(&body.order_id, status) {
        return reply(StatusCode::NOT_FOUND, json!({"error": err.to_string()}));
    }
    match state.send_callback(&body.order_id, status).await {
        Ok(code) => reply(
            StatusCode::OK,
            json!({"order_id": body.order_id, "status": status, "callback_status": code.as_u16()}),
        ),
        Err(err) => reply(
            StatusCode::BAD_GATEWAY,
            json!({"error": format!("{err:#}")}),
        ),
    }
}

async fn invoices(AxState(state): AxState<Arc<State>>) -> Response {
    let list: Vec<Value> = state
        .invoices()
        .iter()
        .map(|i| i.to_json(&state.base_url))
        .collect();
    reply(StatusCode::OK, json!(list))
}

async fn get_mode(AxState(state): AxState<Arc<State>>) -> Response {
    reply(StatusCode::OK, json!({"mode": state.lock().mode}))
}

#[derive(Deserialize)]
struct ModeBody {
    mode: String,
}

async fn set_mode(
    AxState(state): AxState<Arc<State>>,
    axum::Json(body): axum::Json<ModeBody>,
) -> Response {
    match Mode::from_str(&body.mode) {
        Ok(mode) => {
            state.lock().mode = mode;
            reply(StatusCode::OK, json!({"mode": mode}))
        }
        Err(err) => reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": err.to_string()}),
        ),
    }
}

async fn requests(AxState(state): AxState<Arc<State>>) -> Response {
    let list: Vec<Value> = state
        .lock()
        .requests
        .iter()
        .map(|r| {
            json!({
                "method": r.method,
                "path": r.path,
                "headers": r.headers,
                "body": String::from_utf8_lossy(&r.body),
                "status": r.status,
            })
        })
        .collect();
    reply(StatusCode::OK, json!(list))
}

async fn clear_requests(AxState(state): AxState<Arc<State>>) -> StatusCode {
    state.lock().requests.clear();
    StatusCode::NO_CONTENT
}

/// A minimal stand-in for Heleket's hosted payment page, so demo links open somewhere useful.
async fn pay_page(AxState(state): AxState<Arc<State>>, Path(uuid): Path<String>) -> Response {
    let Some(invoice) = state
        .invoices()
        .into_iter()
        .find(|i| i.uuid.to_string() == uuid)
    else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>Invoice not found</h1>".to_owned()),
        )
            .into_response();
    };
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    Html(format!(
        "<!doctype html><title>Sandbox invoice</title><h1>Sandbox invoice</h1>\
         <p>Order <code>{}</code>: {} {}</p><p>Status: <b>{}</b></p>\
         <p>Pay it with <code>curl -XPOST {}/_sandbox/pay -d '{{\"order_id\":\"{}\"}}' -H 'content-type: application/json'</code></p>",
        escape(&invoice.order_id),
        invoice.amount,
        escape(&invoice.currency),
        escape(&invoice.status),
        state.base_url,
        escape(&invoice.order_id),
    ))
    .into_response()
}

//! HTTP entry point: `/bot{token}/{method}` plus the `/_sandbox/` control routes.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

use super::RecordedCall;
use super::methods::{self, ApiError};
use super::params;
use super::state::State;
use super::validate;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .nest("/_sandbox", super::control::router())
        // `/bot{token}/...` is a prefix inside a segment, which axum's matcher cannot express,
        // so the Bot API is served by the fallback and parsed by hand.
        .fallback(bot_api)
        .with_state(state)
}

async fn bot_api(
    AxState(state): AxState<Arc<State>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(rest) = uri.path().strip_prefix("/file/bot") {
        return download(&state, rest);
    }
    let headers_vec = header_list(&headers);
    let Some((token, method)) = split_path(uri.path()) else {
        return reply(404, ApiError::new(404, "Not Found").to_json());
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let parts = match content_type {
        Some(ct) if ct.to_ascii_lowercase().starts_with("multipart/") => {
            params::multipart(ct, body.clone()).await.ok()
        }
        _ => None,
    };
    let (status, body) = match params::parse(content_type, uri.query(), &body, parts) {
        Ok(params) => execute(&state, token, method, params, headers_vec),
        Err(description) => {
            let err = ApiError::bad_request(description).to_json();
            let call = RecordedCall {
                method: methods::canonical(method).unwrap_or(method).to_owned(),
                token: token.to_owned(),
                params: Value::Null,
                headers: headers_vec,
                status: 400,
                at: state.now().wall,
                response: err.clone(),
            };
            state.record(call);
            (400, err)
        }
    };
    reply(status, body)
}

/// Runs and records one call; shared by HTTP requests and replies embedded in webhook answers.
/// The call and its record share one critical section, so limits stay exact and the record's
/// order and times are the order and times the fake admitted the calls.
pub(crate) fn execute(
    state: &State,
    token: &str,
    method: &str,
    params: Value,
    headers: Vec<(String, String)>,
) -> (u16, Value) {
    let canonical = methods::canonical(method);
    let mut inner = state.lock();
    let now = state.now();
    let outcome = if !token_accepted(state, token) {
        Err(ApiError::new(401, "Unauthorized"))
    } else if let Some(name) = canonical {
        methods::dispatch(state, &mut inner, now, token, name, &params)
    } else {
        Err(ApiError::new(404, "Not Found"))
    };
    let (status, body) = match outcome {
        Ok(body) => (200, body),
        Err(err) => (err.code, err.to_json()),
    };
    inner.calls.push(RecordedCall {
        method: canonical.unwrap_or(method).to_owned(),
        token: token.to_owned(),
        params,
        headers,
        status,
        at: now.wall,
        response: body.clone(),
    });
    drop(inner);
    state.changed.notify_waiters();
    (status, body)
}

/// `GET /file/bot<token>/<file_path>`: the bytes of a file whose path this token got from
/// getFile. A token Telegram would not accept gets 401, any other miss 404, as Telegram answers.
fn download(state: &State, token_and_path: &str) -> Response {
    let (token, path) = token_and_path
        .split_once('/')
        .unwrap_or((token_and_path, ""));
    if !token_accepted(state, token) {
        return reply(401, ApiError::new(401, "Unauthorized").to_json());
    }
    match state.lock().files.download(token, path) {
        Some(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        None => reply(404, ApiError::new(404, "Not Found").to_json()),
    }
}

fn token_accepted(state: &State, token: &str) -> bool {
    validate::token_shape(token)
        && state
            .opts
            .expected_token
            .as_deref()
            .is_none_or(|expected| expected == token)
}

/// `/bot123:abc/sendMessage` → ("123:abc", "sendMessage").
fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/bot")?;
    let (token, method) = rest.split_once('/')?;
    if method.is_empty() || method.contains('/') {
        return None;
    }
    Some((token, method))
}

pub(crate) fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn reply(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

pub(crate) fn json_reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(crate) fn error_reply(status: StatusCode, message: impl std::fmt::Display) -> Response {
    json_reply(status, json!({"error": message.to_string()}))
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn splits_token_and_method() {
        assert_eq!(split_path("/bot1:a/getMe"), Some(("1:a", "getMe")));
        assert_eq!(split_path("/bot1:a/"), None);
        assert_eq!(split_path("/file/bot1:a/x"), None);
    }
}

//! `/_sandbox/` control routes so the demo (another process) can drive the fake.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{error_reply, json_reply};
use super::state::{State, Unreachable};
use super::{
    ChannelPost, Delivery, FaultSpec, FileKind, RecordedCall, TgUser, Upload, UserMessage, methods,
    stats, user, webhook,
};

/// Routes under `/_sandbox`; each mirrors a method of `FakeTelegram` for the out-of-process demo:
/// calls and stats to inspect, simulated users to drive, chat states and faults to inject.
pub(crate) fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/calls", get(list_calls).delete(clear_calls))
        .route("/webhook", get(webhook_info))
        .route("/stats", get(stats))
        .route("/chats/{id}/messages", get(chat_messages))
        .route("/updates", post(post_update))
        .route("/users/{id}/send", post(user_send))
        .route("/users/{id}/message", post(user_message))
        .route("/users/{id}/press", post(user_press))
        .route("/users/{id}/block", post(user_block))
        .route("/chats/{id}/block", post(block))
        .route("/chats/{id}/deactivate", post(deactivate))
        .route("/chats/{id}/vanish", post(vanish))
        .route("/chats/{id}/unblock", post(unblock))
        .route(
            "/faults",
            get(list_faults).post(inject_fault).delete(clear_faults),
        )
}

#[derive(Deserialize)]
struct CallFilter {
    method: Option<String>,
    chat_id: Option<i64>,
}

async fn list_calls(AxState(state): AxState<Arc<State>>, Query(f): Query<CallFilter>) -> Response {
    let calls: Vec<RecordedCall> = state
        .lock()
        .calls
        .iter()
        .filter(|c| {
            f.method
                .as_deref()
                .is_none_or(|m| c.method.eq_ignore_ascii_case(m))
                && f.chat_id.is_none_or(|id| c.chat_id() == Some(id))
        })
        .cloned()
        .collect();
    json_reply(StatusCode::OK, json!(calls))
}

/// Per token the peak sends in any second, and the number of 429 replies.
async fn stats(AxState(state): AxState<Arc<State>>) -> Response {
    let inner = state.lock();
    let peaks = stats::peaks_by_token(inner.calls.iter());
    let count_429 = inner.calls.iter().filter(|c| c.status == 429).count();
    json_reply(
        StatusCode::OK,
        json!({"sends_per_second_max": peaks, "count_429": count_429}),
    )
}

async fn chat_messages(AxState(state): AxState<Arc<State>>, Path(id): Path<i64>) -> Response {
    let sent = state
        .lock()
        .chats
        .get(&id)
        .map(stats::sent_messages)
        .unwrap_or_default();
    json_reply(StatusCode::OK, json!(sent))
}

async fn clear_calls(AxState(state): AxState<Arc<State>>) -> StatusCode {
    state.lock().clear_calls();
    StatusCode::NO_CONTENT
}

async fn webhook_info(AxState(state): AxState<Arc<State>>) -> Response {
    json_reply(StatusCode::OK, methods::webhook_info(&state.lock()))
}

fn delivery_reply(result: anyhow::Result<Delivery>, extra: Value) -> Response {
    match result {
        Ok(d) => {
            let mut body = json!(d);
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            json_reply(StatusCode::OK, body)
        }
        // 409: the request is fine but the bot has not registered a webhook yet.
        Err(err) => error_reply(StatusCode::CONFLICT, err),
    }
}

async fn post_update(
    AxState(state): AxState<Arc<State>>,
    axum::Json(update): axum::Json<Value>,
) -> Response {
    let update_id = update.get("update_id").cloned().unwrap_or(Value::Null);
    delivery_reply(
        webhook::deliver(&state, update).await,
        json!({"update_id": update_id}),
    )
}

#[derive(Deserialize)]
struct SendBody {
    text: String,
    first_name: Option<String>,
    username: Option<String>,
    language_code: Option<String>,
}

fn user(
    id: i64,
    first_name: Option<String>,
    username: Option<String>,
    lang: Option<String>,
) -> TgUser {
    TgUser {
        id,
        first_name: first_name.unwrap_or_else(|| "Sandbox".to_owned()),
        username,
        language_code: Some(lang.unwrap_or_else(|| "en".to_owned())),
    }
}

async fn user_send(
    AxState(state): AxState<Arc<State>>,
    Path(id): Path<i64>,
    axum::Json(body): axum::Json<SendBody>,
) -> Response {
    let user = user(id, body.first_name, body.username, body.language_code);
    let update = user::message_update(&state, &user, &UserMessage::text(&body.text));
    let extra =
        json!({"update_id": update["update_id"], "message_id": update["message"]["message_id"]});
    delivery_reply(webhook::deliver(&state, update).await, extra)
}

/// `POST /_sandbox/users/{id}/message`: what [`UserMessage`] builds, as JSON.
#[derive(Deserialize)]
struct MessageBody {
    text: Option<String>,
    #[serde(default)]
    entities: Vec<Value>,
    file: Option<FileBody>,
    forward_from_channel: Option<ChannelBody>,
    first_name: Option<String>,
    username: Option<String>,
    language_code: Option<String>,
}

#[derive(Deserialize)]
struct FileBody {
    kind: FileKind,
    file_name: Option<String>,
    mime_type: Option<String>,
    /// The file's bytes as UTF-8 text (a list of ids) ...
    content: Option<String>,
    /// ... or as base64.
    content_base64: Option<String>,
}

#[derive(Deserialize)]
struct ChannelBody {
    chat_id: i64,
    title: Option<String>,
    message_id: i64,
}

impl MessageBody {
    fn into_message(self) -> Result<UserMessage, String> {
        let file = match self.file {
            Some(f) => Some(f.into_upload()?),
            None => None,
        };
        Ok(UserMessage {
            text: self.text,
            entities: self.entities,
            file,
            forwarded_from: self.forward_from_channel.map(|c| ChannelPost {
                chat_id: c.chat_id,
                title: c.title.unwrap_or_else(|| "Sandbox channel".to_owned()),
                message_id: c.message_id,
            }),
        })
    }
}

impl FileBody {
    fn into_upload(self) -> Result<Upload, String> {
        use base64::Engine;
        let bytes = match (self.content, self.content_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("content_base64: {e}"))?,
            (None, None) => format!("sandbox {:?}", self.kind).into_bytes(),
            (Some(_), Some(_)) => return Err("give content or content_base64, not both".into()),
        };
        Ok(Upload {
            kind: self.kind,
            bytes: bytes.into(),
            file_name: self.file_name,
            mime_type: self.mime_type,
        })
    }
}

async fn user_message(
    AxState(state): AxState<Arc<State>>,
    Path(id): Path<i64>,
    axum::Json(body): axum::Json<MessageBody>,
) -> Response {
    let user = user(
        id,
        body.first_name.clone(),
        body.username.clone(),
        body.language_code.clone(),
    );
    let message = match body.into_message() {
        Ok(m) => m,
        Err(err) => return error_reply(StatusCode::BAD_REQUEST, err),
    };
    let update = user::message_update(&state, &user, &message);
    let extra = json!({"update_id": update["update_id"], "message": update["message"]});
    delivery_reply(webhook::deliver(&state, update).await, extra)
}

#[derive(Deserialize)]
struct PressBody {
    message_id: i64,
    data: String,
    first_name: Option<String>,
    language_code: Option<String>,
}

async fn user_press(
    AxState(state): AxState<Arc<State>>,
    Path(id): Path<i64>,
    axum::Json(body): axum::Json<PressBody>,
) -> Response {
    let user = user(id, body.first_name, None, body.language_code);
    let update = webhook::callback_update(&state, &user, body.message_id, &body.data);
    let extra = json!({
        "update_id": update["update_id"],
        "callback_query_id": update["callback_query"]["id"],
    });
    delivery_reply(webhook::deliver(&state, update).await, extra)
}

async fn user_block(AxState(state): AxState<Arc<State>>, Path(id): Path<i64>) -> Response {
    state.lock().blocked.insert(id, Unreachable::Blocked);
    let update = webhook::blocked_update(&state, &user(id, None, None, None));
    delivery_reply(webhook::deliver(&state, update).await, json!({}))
}

async fn block(AxState(state): AxState<Arc<State>>, Path(id): Path<i64>) -> StatusCode {
    state.lock().blocked.insert(id, Unreachable::Blocked);
    StatusCode::NO_CONTENT
}

async fn deactivate(AxState(state): AxState<Arc<State>>, Path(id): Path<i64>) -> StatusCode {
    state.lock().blocked.insert(id, Unreachable::Deactivated);
    StatusCode::NO_CONTENT
}

async fn vanish(AxState(state): AxState<Arc<State>>, Path(id): Path<i64>) -> StatusCode {
    state.lock().blocked.insert(id, Unreachable::Vanished);
    StatusCode::NO_CONTENT
}

async fn unblock(AxState(state): AxState<Arc<State>>, Path(id): Path<i64>) -> StatusCode {
    state.lock().blocked.remove(&id);
    StatusCode::NO_CONTENT
}

async fn inject_fault(
    AxState(state): AxState<Arc<State>>,
    axum::Json(spec): axum::Json<FaultSpec>,
) -> Response {
    if let Err(err) = spec.validate() {
        return error_reply(StatusCode::BAD_REQUEST, err);
    }
    let mut inner = state.lock();
    inner.faults.inject(spec);
    json_reply(
        StatusCode::CREATED,
        json!({"pending": inner.faults.pending()}),
    )
}

async fn list_faults(AxState(state): AxState<Arc<State>>) -> Response {
    json_reply(
        StatusCode::OK,
        json!({"pending": state.lock().faults.pending()}),
    )
}

async fn clear_faults(AxState(state): AxState<Arc<State>>) -> StatusCode {
    state.lock().faults.clear();
    StatusCode::NO_CONTENT
}

//! The Bot API methods the fleet uses, answered like Telegram.

use serde_json::{Map, Value, json};

use super::files::FileKind;
use super::params;
use super::state::{Inner, Media, Now, State, StoredMessage, Unreachable, Webhook, unix_now};
use super::validate;

/// Canonical names; requests match them case-insensitively like Telegram does.
pub(crate) const METHODS: &[&str] = &[
    "getMe",
    "setWebhook",
    "getWebhookInfo",
    "deleteWebhook",
    "sendMessage",
    "sendPhoto",
    "sendVideo",
    "sendDocument",
    "sendAnimation",
    "copyMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "getFile",
];

/// Methods that are subject to the flood limits.
pub(crate) const SEND_METHODS: &[&str] = &[
    "sendMessage",
    "sendPhoto",
    "sendVideo",
    "sendDocument",
    "sendAnimation",
    "copyMessage",
];

pub(crate) const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

/// A failed call: HTTP status = `error_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(400, description)
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(n) = self.retry_after {
            v["parameters"] = json!({"retry_after": n});
        }
        v
    }
}

type Reply = Result<Value, ApiError>;

/// Built by hand: `json!` would serialize `result` into a deep copy, a cost paid on every send.
fn ok(result: Value) -> Reply {
    let mut envelope = Map::with_capacity(2);
    envelope.insert("ok".to_owned(), Value::Bool(true));
    envelope.insert("result".to_owned(), result);
    Ok(Value::Object(envelope))
}

fn ok_described(result: Value, description: &str) -> Reply {
    let mut envelope = ok(result)?;
    envelope["description"] = json!(description);
    Ok(envelope)
}

pub(crate) fn canonical(method: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(method))
}

pub(crate) fn bot_user(token: &str) -> Value {
    let id: i64 = token
        .split_once(':')
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or(0);
    json!({
        "id": id,
        "is_bot": true,
        "first_name": "Sandbox Bot",
        "username": "sandbox_bot",
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
    })
}

/// Runs one call against the state; the caller holds the lock for the whole call.
pub(crate) fn dispatch(
    state: &State,
    inner: &mut Inner,
    now: Now,
    token: &str,
    method: &'static str,
    params: &Value,
) -> Reply {
    let is_send = SEND_METHODS.contains(&method);
    inner
        .faults
        .check(token, method, is_send, params, now.instant)?;
    match method {
        "getMe" => ok(bot_user(token)),
        "setWebhook" => set_webhook(inner, token, params),
        "getWebhookInfo" => ok(webhook_info(inner)),
        "deleteWebhook" => {
            let had = inner.webhook.take().is_some();
            let text = if had {
                "Webhook was deleted"
            } else {
                "Webhook is already deleted"
            };
            ok_described(json!(true), text)
        }
        "answerCallbackQuery" => answer_callback_query(inner, params),
        "getFile" => {
            let file_id = params::string(params, "file_id").unwrap_or_default();
            ok(inner.files.get_file(token, &file_id)?)
        }
        "editMessageText" | "editMessageReplyMarkup" => edit(inner, token, method, params),
        _ => send(state, inner, now, token, method, params),
    }
}

fn set_webhook(inner: &mut Inner, token: &str, params: &Value) -> Reply {
    let url = params::string(params, "url").unwrap_or_default();
    if url.is_empty() {
        inner.webhook = None;
        return ok_described(json!(true), "Webhook was deleted");
    }
    // Real Telegram insists on HTTPS; the sandbox also takes http:// for local runs.
    let has_host = url
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && !rest.is_empty());
    if !has_host {
        return Err(ApiError::bad_request(
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    let secret = params::string(params, "secret_token").filter(|s| !s.is_empty());
    if let Some(secret) = &secret {
        validate::secret_token(secret).map_err(ApiError::bad_request)?;
    }
    // A self-signed certificate is uploaded as a file; Telegram checks it is one.
    let custom_certificate = match params.get("certificate") {
        None => false,
        Some(Value::Object(file)) => {
            let pem = file
                .get("upload_text")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ApiError::bad_request(
                    "Bad Request: bad webhook: Failed to set custom certificate file",
                ));
            }
            true
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "Bad Request: bad webhook: the certificate must be uploaded as a file",
            ));
        }
    };
    let max_connections = params::int(params, "max_connections")
        .map(|n| n.clamp(1, 100))
        .unwrap_or(40);
    let previous = inner.webhook.take();
    // Omitting allowed_updates keeps the previous setting, as documented.
    let allowed_updates = match params.get("allowed_updates") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => previous
            .as_ref()
            .map(|w| w.allowed_updates.clone())
            .unwrap_or_default(),
    };
    inner.webhook = Some(Webhook {
        url,
        secret_token: secret,
        max_connections: u32::try_from(max_connections).unwrap_or(40),
        allowed_updates,
        token: token.to_owned(),
        pending: previous.as_ref().map_or(0, |w| w.pending),
        last_error: None,
        custom_certificate,
    });
    ok_described(json!(true), "Webhook was set")
}

pub(crate) fn webhook_info(inner: &Inner) -> Value {
    let Some(w) = &inner.webhook else {
        return json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0});
    };
    let mut info = json!({
        "url": w.url,
        "has_custom_certificate": w.custom_certificate,
        "pending_update_count": w.pending,
        "max_connections": w.max_connections,
        "ip_address": "127.0.0.1",
    });
    if !w.allowed_updates.is_empty() {
        info["allowed_updates"] = json!(w.allowed_updates);
    }
    if let Some((date, message)) = &w.last_error {
        info["last_error_date"] = json!(date);
        info["last_error_message"] = json!(message);
    }
    info
}

fn answer_callback_query(inner: &mut Inner, params: &Value) -> Reply {
    let id = params::string(params, "callback_query_id").unwrap_or_default();
    if !inner.callback_ids.contains(&id) {
        return Err(ApiError::bad_request(
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        ));
    }
    if let Some(text) = params.get("text").and_then(Value::as_str)
        && text.chars().count() > validate::MAX_CALLBACK_ANSWER
    {
        return Err(ApiError::bad_request("Bad Request: MESSAGE_TOO_LONG"));
    }
    ok(json!(true))
}

fn chat_id(params: &Value) -> Result<i64, ApiError> {
    params::int(params, "chat_id")
        .filter(|id| *id != 0)
        .ok_or_else(|| ApiError::bad_request("Bad Request: chat not found"))
}

fn check_reachable(inner: &Inner, chat_id: i64) -> Result<(), ApiError> {
    match inner.blocked.get(&chat_id) {
        Some(Unreachable::Blocked) => {
            Err(ApiError::new(403, "Forbidden: bot was blocked by the user"))
        }
        Some(Unreachable::Deactivated) => Err(ApiError::new(403, "Forbidden: user is deactivated")),
        Some(Unreachable::Vanished) | None => Ok(()),
    }
}

/// Checked before anything else about the call, as Telegram resolves the chat first.
fn check_exists(inner: &Inner, chat_id: i64) -> Result<(), ApiError> {
    match inner.blocked.get(&chat_id) {
        Some(Unreachable::Vanished) => Err(ApiError::bad_request("Bad Request: chat not found")),
        _ => Ok(()),
    }
}

fn send(
    state: &State,
    inner: &mut Inner,
    now: Now,
    token: &str,
    method: &'static str,
    params: &Value,
) -> Reply {
    debug_assert!(SEND_METHODS.contains(&method));
    let chat_id = chat_id(params)?;
    check_exists(inner, chat_id)?;
    let markup = params::markup(params);
    if let Some(m) = &markup {
        validate::reply_markup(m, false).map_err(ApiError::bad_request)?;
    }
    let paid = params::boolean(params, "allow_paid_broadcast");
    let mut message = StoredMessage {
        from_bot: true,
        method,
        reply_markup: markup,
        date: unix_now(),
        paid,
        ..StoredMessage::default()
    };
    match method {
        "sendMessage" => {
            message.text = Some(validate::text(params).map_err(ApiError::bad_request)?);
            message.parse_mode = params::string(params, "parse_mode");
            message.entities = params.get("entities").cloned();
        }
        "copyMessage" => copy_source(inner, params, &mut message)?,
        _ => media_source(inner, method, params, &mut message)?,
    }
    check_reachable(inner, chat_id)?;
    if state.opts.enforce_limits {
        inner
            .limiter
            .acquire(token, chat_id, paid, now.instant)
            .map_err(ApiError::too_many_requests)?;
    }
    let chat = inner.chat(chat_id);
    let message_id = chat.next_message_id();
    let reply = if method == "copyMessage" {
        json!({"message_id": message_id})
    } else {
        message_json(
            token,
            chat_id,
            chat.first_name.as_deref(),
            message_id,
            &message,
        )
    };
    chat.messages.insert(message_id, message);
    ok(reply)
}

/// sendPhoto/sendVideo/sendDocument/sendAnimation by file_id or URL, or with
/// the file uploaded (multipart), with an optional caption.
fn media_source(
    inner: &mut Inner,
    method: &str,
    params: &Value,
    message: &mut StoredMessage,
) -> Result<(), ApiError> {
    let kind = FileKind::for_method(method).expect("a media send method");
    let field = kind.field();
    // An uploaded file: the fake issues it a file id, as Telegram does.
    let uploaded = params
        .get(field)
        .and_then(Value::as_object)
        .filter(|o| o.contains_key("upload_bytes"));
    let reference = params::string(params, field).filter(|f| !f.is_empty());
    let missing =
        || ApiError::bad_request(format!("Bad Request: there is no {field} in the request"));
    if uploaded.is_none() && reference.is_none() {
        return Err(missing());
    }
    message.caption = validate::caption(params).map_err(ApiError::bad_request)?;
    message.parse_mode = params::string(params, "parse_mode");
    message.entities = params.get("caption_entities").cloned();
    let json = match (uploaded, reference) {
        (Some(up), _) => {
            let bytes = up
                .get("upload_text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .as_bytes()
                .to_vec();
            if bytes.is_empty() {
                return Err(ApiError::bad_request("Bad Request: file must be non-empty"));
            }
            inner.files.upload(super::files::Upload {
                kind,
                bytes: bytes.into(),
                file_name: None,
                mime_type: None,
            })
        }
        (None, Some(reference)) => inner.files.for_send(kind, &reference)?,
        (None, None) => return Err(missing()),
    };
    message.media = Some(Media { kind, json });
    Ok(())
}

/// copyMessage: the copy shows the source's content, with a new caption or keyboard if given.
/// The source must exist: a message a simulated user sent or one the bot sent.
fn copy_source(
    inner: &mut Inner,
    params: &Value,
    message: &mut StoredMessage,
) -> Result<(), ApiError> {
    let from_chat = params::int(params, "from_chat_id")
        .filter(|id| *id != 0)
        .ok_or_else(|| ApiError::bad_request("Bad Request: chat not found"))?;
    check_exists(inner, from_chat)?;
    let not_found = || ApiError::bad_request("Bad Request: message to copy not found");
    let source_id = params::int(params, "message_id").ok_or_else(not_found)?;
    let source = inner
        .chats
        .get(&from_chat)
        .and_then(|chat| chat.messages.get(&source_id))
        .ok_or_else(not_found)?;
    message.text = source.text.clone();
    message.caption = source.caption.clone();
    message.parse_mode = source.parse_mode.clone();
    message.entities = source.entities.clone();
    message.media = source.media.clone();
    message.copied_from = Some((from_chat, source_id));
    if message.reply_markup.is_none() {
        message.reply_markup = source.reply_markup.clone();
    }
    // A new caption replaces the old one on media; a text message has none to replace.
    if message.media.is_some()
        && let Some(caption) = validate::caption(params).map_err(ApiError::bad_request)?
    {
        message.caption = Some(caption);
        message.parse_mode = params::string(params, "parse_mode");
        message.entities = params.get("caption_entities").cloned();
    }
    Ok(())
}

fn edit(inner: &mut Inner, token: &str, method: &str, params: &Value) -> Reply {
    let text = if method == "editMessageText" {
        Some(validate::text(params).map_err(ApiError::bad_request)?)
    } else {
        None
    };
    let markup = params::markup(params);
    if let Some(m) = &markup {
        validate::reply_markup(m, true).map_err(ApiError::bad_request)?;
    }
    // Inline messages live in other chats; the fake cannot check them and accepts the edit.
    if params::string(params, "inline_message_id").is_some_and(|s| !s.is_empty()) {
        return ok(json!(true));
    }
    let chat_id = chat_id(params)?;
    let Some(message_id) = params::int(params, "message_id") else {
        return Err(ApiError::bad_request(
            "Bad Request: message identifier is not specified",
        ));
    };
    check_exists(inner, chat_id)?;
    check_reachable(inner, chat_id)?;
    let chat = inner.chat(chat_id);
    let first_name = chat.first_name.clone();
    let Some(stored) = chat.messages.get_mut(&message_id).filter(|m| m.from_bot) else {
        return Err(ApiError::bad_request(
            "Bad Request: message to edit not found",
        ));
    };
    if text.is_some() && stored.text.is_none() {
        return Err(ApiError::bad_request(
            "Bad Request: there is no text in the message to edit",
        ));
    }
    let new_text = text.or_else(|| stored.text.clone());
    if new_text == stored.text && markup == stored.reply_markup {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    stored.text = new_text;
    // Like Telegram, an edit without reply_markup removes the inline keyboard.
    stored.reply_markup = markup;
    let mut message = message_json(token, chat_id, first_name.as_deref(), message_id, stored);
    message["edit_date"] = json!(unix_now());
    ok(message)
}

pub(crate) fn chat_json(chat_id: i64, first_name: Option<&str>) -> Value {
    if chat_id > 0 {
        let mut chat = json!({"id": chat_id, "type": "private"});
        if let Some(name) = first_name {
            chat["first_name"] = json!(name);
        }
        chat
    } else {
        json!({"id": chat_id, "type": "supergroup", "title": "Sandbox group"})
    }
}

pub(crate) fn message_json(
    token: &str,
    chat_id: i64,
    first_name: Option<&str>,
    message_id: i64,
    m: &StoredMessage,
) -> Value {
    let mut v = json!({"message_id": message_id, "date": m.date});
    v["chat"] = chat_json(chat_id, first_name);
    if m.from_bot {
        v["from"] = bot_user(token);
    }
    if let Some(text) = &m.text {
        v["text"] = json!(text);
    }
    if let Some(media) = &m.media {
        v[media.kind.field()] = media.json.clone();
        // For backward compatibility Telegram also fills `document` for an animation.
        if media.kind == FileKind::Animation {
            v["document"] = media.json.clone();
        }
    }
    if let Some(caption) = &m.caption {
        v["caption"] = json!(caption);
    }
    if let Some(markup) = &m.reply_markup {
        v["reply_markup"] = markup.clone();
    }
    v
}

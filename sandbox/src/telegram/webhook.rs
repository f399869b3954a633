//! Telegram's side of webhooks: POSTing updates to the bot with the secret header and retries,
//! and building the updates a simulated user causes.

use std::sync::Arc;

use anyhow::anyhow;
use serde_json::{Value, json};

use super::methods::{bot_user, chat_json, message_json};
use super::state::{State, unix_now};
use super::{Delivery, TgUser, api, user_json};

/// Update types Telegram leaves out when `allowed_updates` is empty.
const OPT_IN_UPDATES: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

/// Methods Telegram ignores when a bot answers them inside the webhook response.
fn ignored_in_webhook_reply(method: &str) -> bool {
    let m = method.to_ascii_lowercase();
    m.starts_with("get") || ["setwebhook", "deletewebhook", "close", "logout"].contains(&m.as_str())
}

pub(crate) async fn deliver(state: &Arc<State>, update: Value) -> anyhow::Result<Delivery> {
    deliver_with_headers(state, update, &[]).await
}

/// [`deliver`] with extra request headers (a test's `traceparent`, say).
pub(crate) async fn deliver_with_headers(
    state: &Arc<State>,
    update: Value,
    extra_headers: &[(&str, &str)],
) -> anyhow::Result<Delivery> {
    let hook = {
        let mut inner = state.lock();
        let hook = inner
            .webhook
            .clone()
            .ok_or_else(|| anyhow!("no webhook is set: the bot has not called setWebhook"))?;
        if let Some(id) = update.pointer("/callback_query/id").and_then(Value::as_str) {
            inner.callback_ids.insert(id.to_owned());
        }
        hook
    };
    if !allowed(&hook.allowed_updates, &update) {
        return Ok(Delivery {
            filtered_out: true,
            ..Delivery::default()
        });
    }
    adjust_pending(state, &hook.url, 1, None);
    let body = serde_json::to_vec(&update)?;
    let mut delivery = Delivery::default();
    let mut delay = state.opts.delivery_first_delay;
    let attempts = state.opts.delivery_attempts.max(1);
    let mut last_error = None;
    for attempt in 1..=attempts {
        let mut request = state
            .client
            .post(&hook.url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(secret) = &hook.secret_token {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        match request.send().await {
            Ok(resp) if resp.status().is_success() => {
                delivery.attempts.push(resp.status().as_u16());
                delivery.delivered = true;
                let answer = resp.bytes().await.unwrap_or_default();
                run_embedded_reply(state, &hook.token, &answer);
                break;
            }
            Ok(resp) => {
                let status = resp.status();
                delivery.attempts.push(status.as_u16());
                last_error = Some(format!("Wrong response from the webhook: {status}"));
            }
            Err(err) => {
                delivery.attempts.push(0);
                last_error = Some(transport_error(&err));
            }
        }
        if attempt < attempts {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
    adjust_pending(state, &hook.url, -1, last_error);
    Ok(delivery)
}

fn transport_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "Read timeout expired".into()
    } else if err.is_connect() {
        "Connection refused".into()
    } else {
        format!("Connection error: {err}")
    }
}

fn adjust_pending(state: &State, url: &str, delta: i32, error: Option<String>) {
    let mut inner = state.lock();
    // The bot may have replaced its webhook meanwhile; only the one we used is updated.
    if let Some(w) = inner.webhook.as_mut().filter(|w| w.url == url) {
        w.pending = w.pending.saturating_add_signed(delta);
        if let Some(message) = error {
            w.last_error = Some((unix_now(), message));
        }
    }
}

fn allowed(allowed_updates: &[String], update: &Value) -> bool {
    let Some(kind) = update
        .as_object()
        .and_then(|o| o.keys().find(|k| k.as_str() != "update_id"))
    else {
        return true;
    };
    if allowed_updates.is_empty() {
        !OPT_IN_UPDATES.contains(&kind.as_str())
    } else {
        allowed_updates.iter().any(|a| a == kind)
    }
}

/// A bot may answer a webhook with `{"method": "...", ...}`; Telegram then runs that call.
fn run_embedded_reply(state: &State, token: &str, answer: &[u8]) {
    let Ok(Value::Object(mut params)) = serde_json::from_slice::<Value>(answer) else {
        return;
    };
    let Some(Value::String(method)) = params.remove("method") else {
        return;
    };
    if ignored_in_webhook_reply(&method) {
        return;
    }
    let marker = vec![("x-sandbox-origin".to_owned(), "webhook-reply".to_owned())];
    api::execute(state, token, &method, Value::Object(params), marker);
}

pub(crate) fn callback_update(state: &State, user: &TgUser, message_id: i64, data: &str) -> Value {
    let (token, stored) = {
        let mut inner = state.lock();
        let token = inner
            .webhook
            .as_ref()
            .map(|w| w.token.clone())
            .unwrap_or_default();
        let chat = inner.chat(user.id);
        chat.first_name = Some(user.first_name.clone());
        (token, chat.messages.get(&message_id).cloned())
    };
    // The pressed message is echoed as the bot sent it when the fake knows it.
    let message = match stored {
        Some(m) => message_json(&token, user.id, Some(&user.first_name), message_id, &m),
        None => json!({
            "message_id": message_id,
            "from": bot_user(&token),
            "chat": chat_json(user.id, Some(&user.first_name)),
            "date": unix_now(),
        }),
    };
    let update_id = state.next_update_id();
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("{}{:06}", user.id, update_id % 1_000_000),
            "from": user_json(user),
            "message": message,
            "chat_instance": format!("-{}", user.id.unsigned_abs() * 7919 + 13),
            "data": data,
        }
    })
}

pub(crate) fn blocked_update(state: &State, user: &TgUser) -> Value {
    let token = state
        .lock()
        .webhook
        .as_ref()
        .map(|w| w.token.clone())
        .unwrap_or_default();
    json!({
        "update_id": state.next_update_id(),
        "my_chat_member": {
            "chat": chat_json(user.id, Some(&user.first_name)),
            "from": user_json(user),
            "date": unix_now(),
            "old_chat_member": {"user": bot_user(&token), "status": "member"},
            "new_chat_member": {"user": bot_user(&token), "status": "kicked", "until_date": 0},
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_updates_filter_like_telegram() {
        let reaction = json!({"update_id": 1, "message_reaction": {}});
        let message = json!({"update_id": 1, "message": {}});
        assert!(!allowed(&[], &reaction));
        assert!(allowed(&[], &message));
        assert!(!allowed(&["callback_query".into()], &message));
    }
}

//! A fake Telegram Bot API that enforces Telegram's limits and error replies, records every call
//! and delivers updates to the bot's webhook the way Telegram does.

mod api;
mod control;
mod faults;
mod files;
mod html;
mod limits;
mod methods;
mod params;
mod state;
mod stats;
mod user;
mod validate;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::net::{self, ServerGuard};
pub use faults::{FaultError, FaultSpec};
pub use files::{FileKind, Upload};
use state::{State, Unreachable};
pub use stats::{SendPeaks, SentMessage};
pub use user::{ChannelPost, UserMessage, UserSent};

/// Knobs of the fake. `Default` gives Telegram's documented limits on a free local port.
#[derive(Debug, Clone)]
pub struct TelegramOptions {
    /// 0 picks a free port.
    pub port: u16,
    /// Sends per second per token (Bot FAQ: about 30).
    pub global_per_sec: u32,
    /// Sends per second per token with `allow_paid_broadcast=true`.
    pub paid_per_sec: u32,
    /// Token-bucket capacity per chat: the short burst Telegram tolerates.
    pub chat_burst: u32,
    /// Token-bucket refill per chat, in sends per second (Bot FAQ: 1/s).
    pub chat_refill_per_sec: f64,
    /// Sends per minute to one group chat (chat_id < 0).
    pub group_per_min: u32,
    /// When set, any other token gets 401.
    pub expected_token: Option<String>,
    /// Switch the rate limits off, e.g. for a benchmark measuring our own overhead.
    pub enforce_limits: bool,
    /// Webhook delivery attempts per update before giving up.
    pub delivery_attempts: u32,
    /// Delay before the second attempt; it doubles after each failure.
    pub delivery_first_delay: Duration,
    /// Per-attempt timeout of a webhook POST.
    pub delivery_timeout: Duration,
}

impl Default for TelegramOptions {
    fn default() -> Self {
        Self {
            port: 0,
            global_per_sec: 30,
            paid_per_sec: 1000,
            chat_burst: 3,
            chat_refill_per_sec: 1.0,
            group_per_min: 20,
            expected_token: None,
            enforce_limits: true,
            delivery_attempts: 5,
            delivery_first_delay: Duration::from_millis(200),
            delivery_timeout: Duration::from_secs(10),
        }
    }
}

/// One Bot API call as the fake received it, including rejected ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedCall {
    /// Canonical camelCase name (`sendMessage`), or the name as sent when unknown.
    pub method: String,
    pub token: String,
    /// Parameters merged from query string and body; JSON-typed fields sent as strings in a
    /// form (`reply_markup`...) are decoded so tests can inspect them uniformly.
    pub params: Value,
    /// Every request header, names lower-cased (tests check `traceparent`).
    pub headers: Vec<(String, String)>,
    pub status: u16,
    #[serde(with = "unix_millis")]
    pub at: SystemTime,
    /// The full JSON reply the fake sent back.
    pub response: Value,
}

impl RecordedCall {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `chat_id` parameter as a number, whether it was sent as a number or a string.
    pub fn chat_id(&self) -> Option<i64> {
        params::int(&self.params, "chat_id")
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A simulated Telegram user talking to the bot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TgUser {
    pub id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl TgUser {
    pub fn new(id: i64, first_name: &str) -> Self {
        Self {
            id,
            first_name: first_name.to_owned(),
            username: None,
            language_code: Some("en".to_owned()),
        }
    }

    pub fn with_language(mut self, code: &str) -> Self {
        self.language_code = Some(code.to_owned());
        self
    }
}

/// The outcome of delivering one update to the webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// HTTP status of each attempt; 0 means a transport error (refused, timeout, TLS).
    pub attempts: Vec<u16>,
    pub delivered: bool,
    /// True when the update's type is not in the webhook's `allowed_updates`, so Telegram would
    /// not have sent it (no attempt is made).
    #[serde(default)]
    pub filtered_out: bool,
}

/// Handle of a running fake; clones share the server, which stops with the last clone.
#[derive(Clone)]
pub struct FakeTelegram {
    state: Arc<State>,
    server: Arc<ServerGuard>,
}

impl FakeTelegram {
    pub async fn start(opts: TelegramOptions) -> anyhow::Result<Self> {
        let listener = net::bind_local(opts.port).await?;
        Self::start_on(listener, opts)
    }

    /// Serves on a listener bound by the caller (the `sandbox serve` binary picks the address).
    pub fn start_on(listener: TcpListener, opts: TelegramOptions) -> anyhow::Result<Self> {
        let addr: SocketAddr = listener.local_addr()?;
        let client = net::http_client(opts.delivery_timeout)?;
        let (stop, _) = net::stop_channel();
        let state = Arc::new(State::new(opts, net::base_url(addr), client));
        let router = api::router(state.clone());
        let server = net::spawn_server(listener, router, stop, "telegram");
        Ok(Self {
            state,
            server: Arc::new(server),
        })
    }

    /// `http://127.0.0.1:PORT`; the bot's `TELEGRAM_API_BASE`.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    pub fn shutdown(&self) {
        self.server.shutdown();
    }

    pub fn options(&self) -> &TelegramOptions {
        &self.state.opts
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state.lock().calls.clone()
    }

    /// Calls of one method (case-insensitive), in arrival order.
    pub fn calls_to(&self, method: &str) -> Vec<RecordedCall> {
        self.state
            .lock()
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    /// Successful sends (text, media, copies) and edits to a chat, in order.
    pub fn messages_to(&self, chat_id: i64) -> Vec<RecordedCall> {
        self.state
            .lock()
            .calls
            .iter()
            .filter(|c| is_visible_message(c) && c.chat_id() == Some(chat_id))
            .cloned()
            .collect()
    }

    /// What the bot put in a chat (texts, media, copies with their source), in message order
    /// and as the chat shows it now: a test can see which post each recipient got.
    pub fn sent_to(&self, chat_id: i64) -> Vec<SentMessage> {
        self.state
            .lock()
            .chats
            .get(&chat_id)
            .map(stats::sent_messages)
            .unwrap_or_default()
    }

    /// The most successful send calls of `token` in any sliding 1-second window, by recorded
    /// time; paid and ordinary sends also separately. Recorded times are the limiter's, so with
    /// the limits on these never exceed the configured budgets.
    pub fn sends_per_second_max(&self, token: &str) -> SendPeaks {
        stats::send_peaks(self.state.lock().calls.iter(), token)
    }

    /// How many calls were answered 429 (flood limits and injected flood waits).
    pub fn count_429(&self) -> usize {
        self.count_status(429)
    }

    /// How many recorded calls were answered with this HTTP status.
    pub fn count_status(&self, status: u16) -> usize {
        self.state
            .lock()
            .calls
            .iter()
            .filter(|c| c.status == status)
            .count()
    }

    pub fn clear_calls(&self) {
        self.state.lock().clear_calls();
    }

    /// Waits until a recorded call (already recorded ones included) matches `pred`.
    pub async fn wait_for_call(
        &self,
        pred: impl Fn(&RecordedCall) -> bool,
        timeout: Duration,
    ) -> Option<RecordedCall> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Only calls not yet looked at are checked, so waiting during a long broadcast costs
        // each new call one predicate, not a scan of everything recorded so far.
        let mut seen = (0, 0);
        loop {
            // Register interest before looking, so a call recorded in between still wakes us.
            let notified = self.state.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let inner = self.state.lock();
                let from = if seen.0 == inner.calls_cleared {
                    seen.1
                } else {
                    0
                };
                if let Some(found) = inner
                    .calls
                    .get(from..)
                    .unwrap_or(&[])
                    .iter()
                    .find(|c| pred(c))
                {
                    return Some(found.clone());
                }
                seen = (inner.calls_cleared, inner.calls.len());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Sends to this chat now fail with 403 "bot was blocked by the user".
    pub fn block_chat(&self, chat_id: i64) {
        self.state
            .lock()
            .blocked
            .insert(chat_id, Unreachable::Blocked);
    }

    /// Sends to this chat now fail with 403 "user is deactivated".
    pub fn deactivate_chat(&self, chat_id: i64) {
        self.state
            .lock()
            .blocked
            .insert(chat_id, Unreachable::Deactivated);
    }

    /// The chat becomes unknown to the bot: sends to it (and copies from it) fail with 400
    /// "chat not found", as for an id that never existed.
    pub fn vanish_chat(&self, chat_id: i64) {
        self.state
            .lock()
            .blocked
            .insert(chat_id, Unreachable::Vanished);
    }

    /// Undoes block_chat, deactivate_chat and vanish_chat.
    pub fn unblock_chat(&self, chat_id: i64) {
        self.state.lock().blocked.remove(&chat_id);
    }

    /// The next `spec.count` matching calls fail with the given 429 or 5xx instead of being
    /// delivered (see [`FaultSpec`]). An injected 429 starts a flood wait: for `retry_after`
    /// seconds every send call of that token is answered 429, recorded and not delivered.
    ///
    /// Panics on a spec that could never fire (a test bug), like an assertion.
    pub fn inject_errors(&self, spec: FaultSpec) {
        if let Err(err) = spec.validate() {
            panic!("inject_errors: {err}");
        }
        self.state.lock().faults.inject(spec);
    }

    /// Drops the faults not yet fired and ends any flood wait now.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// Faults still waiting to fire, with their remaining counts.
    pub fn pending_faults(&self) -> Vec<FaultSpec> {
        self.state.lock().faults.pending()
    }

    /// The URL set by the bot with setWebhook, if any.
    pub fn webhook_url(&self) -> Option<String> {
        self.state.lock().webhook.as_ref().map(|w| w.url.clone())
    }

    /// What getWebhookInfo would answer.
    pub fn webhook_info(&self) -> Value {
        methods::webhook_info(&self.state.lock())
    }

    /// A fresh update_id; ids rise one by one like Telegram's.
    pub fn next_update_id(&self) -> i64 {
        self.state.next_update_id()
    }

    /// Delivers an update to the webhook with Telegram's header and a bounded retry.
    /// Errors only when no webhook is set; a failed delivery is `Ok` with `delivered: false`.
    pub async fn deliver(&self, update: Value) -> anyhow::Result<Delivery> {
        webhook::deliver(&self.state, update).await
    }

    /// [`deliver`](Self::deliver) with extra request headers, for tests that send their own
    /// (a `traceparent`, say); Telegram itself sends none.
    pub async fn deliver_with_headers(
        &self,
        update: Value,
        extra_headers: &[(&str, &str)],
    ) -> anyhow::Result<Delivery> {
        webhook::deliver_with_headers(&self.state, update, extra_headers).await
    }

    /// The update [`user_presses`](Self::user_presses) would deliver, for a test to deliver its
    /// own way.
    pub fn press_update(&self, user: &TgUser, message_id: i64, data: &str) -> Value {
        webhook::callback_update(&self.state, user, message_id, data)
    }

    /// The user types `text` in their private chat with the bot.
    pub async fn user_sends(&self, user: &TgUser, text: &str) -> anyhow::Result<Delivery> {
        let update = user::message_update(&self.state, user, &UserMessage::text(text));
        self.deliver(update).await
    }

    /// The user sends formatted text, a photo/video/document with a caption, or a forwarded
    /// channel post (see [`UserMessage`]). The fake keeps the message (and its file for
    /// getFile), so the bot can copyMessage it from the user's chat.
    pub async fn user_sends_message(
        &self,
        user: &TgUser,
        message: UserMessage,
    ) -> anyhow::Result<UserSent> {
        let update = self.user_message_update(user, &message);
        let message = update["message"].clone();
        let delivery = self.deliver(update).await?;
        Ok(UserSent { delivery, message })
    }

    /// The update [`user_sends_message`](Self::user_sends_message) would deliver, for a test to
    /// deliver its own way; the message is stored as sent all the same.
    pub fn user_message_update(&self, user: &TgUser, message: &UserMessage) -> Value {
        user::message_update(&self.state, user, message)
    }

    /// The user presses an inline button with `data` under the bot's message `message_id`.
    pub async fn user_presses(
        &self,
        user: &TgUser,
        message_id: i64,
        data: &str,
    ) -> anyhow::Result<Delivery> {
        let update = webhook::callback_update(&self.state, user, message_id, data);
        self.deliver(update).await
    }

    /// The user blocks the bot: Telegram sends `my_chat_member` "kicked", and later sends to the
    /// chat fail with 403.
    pub async fn user_blocks_bot(&self, user: &TgUser) -> anyhow::Result<Delivery> {
        self.block_chat(user.id);
        let update = webhook::blocked_update(&self.state, user);
        self.deliver(update).await
    }
}

/// Methods whose success puts something in front of the user.
pub(crate) fn is_visible_message(call: &RecordedCall) -> bool {
    call.ok()
        && matches!(
            call.method.as_str(),
            "sendMessage"
                | "sendPhoto"
                | "sendVideo"
                | "sendDocument"
                | "sendAnimation"
                | "copyMessage"
                | "editMessageText"
        )
}

pub(crate) fn user_json(user: &TgUser) -> Value {
    let mut v = json!({"id": user.id, "is_bot": false, "first_name": user.first_name});
    if let Some(u) = &user.username {
        v["username"] = json!(u);
    }
    if let Some(l) = &user.language_code {
        v["language_code"] = json!(l);
    }
    v
}

mod unix_millis {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let ms = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        s.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let ms = u64::deserialize(d)?;
        Ok(UNIX_EPOCH + Duration::from_millis(ms))
    }
}

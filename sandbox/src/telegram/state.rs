//! Shared state of the fake Telegram: recorded calls, chats and their messages, the webhook.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::Notify;

use super::RecordedCall;
use super::TelegramOptions;
use super::faults::Faults;
use super::files::{FileKind, Files};
use super::limits::Limiter;

pub(crate) struct State {
    pub opts: TelegramOptions,
    pub base_url: String,
    pub client: reqwest::Client,
    pub changed: Notify,
    inner: Mutex<Inner>,
    update_ids: AtomicI64,
    /// One reading of both clocks at start, so recorded wall times are derived from the same
    /// monotonic instants the limiter sees.
    epoch: (Instant, SystemTime),
}

/// The moment a call is handled: `instant` for the limits, `wall` for the record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    pub instant: Instant,
    pub wall: SystemTime,
}

impl State {
    pub fn new(opts: TelegramOptions, base_url: String, client: reqwest::Client) -> Self {
        let limiter = Limiter::new(&opts);
        Self {
            opts,
            base_url,
            client,
            changed: Notify::new(),
            inner: Mutex::new(Inner {
                calls: Vec::new(),
                chats: HashMap::new(),
                blocked: HashMap::new(),
                webhook: None,
                limiter,
                callback_ids: HashSet::new(),
                calls_cleared: 0,
                faults: Faults::default(),
                files: Files::default(),
            }),
            // Real update ids are large and rise by one; a fixed start keeps logs readable.
            update_ids: AtomicI64::new(700_000_000),
            epoch: (Instant::now(), SystemTime::now()),
        }
    }

    /// Read while holding the lock, so the recorded times of calls rise in the order the calls
    /// were admitted and a per-second count over them agrees with the limiter's.
    pub fn now(&self) -> Now {
        let instant = Instant::now();
        let wall = self.epoch.1 + instant.duration_since(self.epoch.0);
        Now { instant, wall }
    }

    /// A poisoned lock only means a test panicked mid-call; the data is still usable.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn next_update_id(&self) -> i64 {
        self.update_ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn record(&self, call: RecordedCall) {
        self.lock().calls.push(call);
        self.changed.notify_waiters();
    }
}

pub(crate) struct Inner {
    pub calls: Vec<RecordedCall>,
    pub chats: HashMap<i64, Chat>,
    /// Chats whose sends fail: blocked, deactivated or gone.
    pub blocked: HashMap<i64, Unreachable>,
    pub webhook: Option<Webhook>,
    pub limiter: Limiter,
    /// Callback query ids handed to the bot; answering any other id fails like Telegram.
    pub callback_ids: HashSet<String>,
    /// Bumped by every clear, so a waiter that remembers how far it looked starts over.
    pub calls_cleared: u64,
    pub faults: Faults,
    pub files: Files,
}

impl Inner {
    pub fn clear_calls(&mut self) {
        self.calls.clear();
        self.calls_cleared += 1;
    }

    pub fn chat(&mut self, id: i64) -> &mut Chat {
        self.chats.entry(id).or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreachable {
    Blocked,
    Deactivated,
    /// The chat no longer exists for the bot (deleted account, wrong id): 400 "chat not found".
    Vanished,
}

#[derive(Debug, Default)]
pub(crate) struct Chat {
    /// Message ids are per chat and shared by the user's and the bot's messages.
    pub last_message_id: i64,
    pub first_name: Option<String>,
    pub messages: HashMap<i64, StoredMessage>,
}

impl Chat {
    pub fn next_message_id(&mut self) -> i64 {
        self.last_message_id += 1;
        self.last_message_id
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StoredMessage {
    pub from_bot: bool,
    /// The send method that produced a bot's message (`sendPhoto`...); empty for users'.
    pub method: &'static str,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub parse_mode: Option<String>,
    /// `entities` of a text or `caption_entities` of a media message, as given.
    pub entities: Option<Value>,
    pub media: Option<Media>,
    pub reply_markup: Option<Value>,
    pub date: i64,
    /// A copy's source: (from_chat_id, message_id).
    pub copied_from: Option<(i64, i64)>,
    /// A forwarded message's `forward_origin`.
    pub forward_origin: Option<Value>,
    pub paid: bool,
}

/// A message's file: its kind and the JSON of its `photo`/`video`/... field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Media {
    pub kind: FileKind,
    pub json: Value,
}

impl Media {
    /// The file id a bot would reuse: a photo's largest size.
    pub fn file_id(&self) -> Option<&str> {
        let file = match &self.json {
            Value::Array(sizes) => sizes.last()?,
            other => other,
        };
        file.get("file_id").and_then(Value::as_str)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub url: String,
    pub secret_token: Option<String>,
    pub max_connections: u32,
    pub allowed_updates: Vec<String>,
    /// The token that set the webhook; replies embedded in webhook responses run as this bot.
    pub token: String,
    pub pending: u32,
    pub last_error: Option<(i64, String)>,
    /// A certificate was uploaded with setWebhook (self-signed webhooks).
    pub custom_certificate: bool,
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

//! The live progress message: one message in the admin's chat, edited in
//! place every BROADCAST_PROGRESS_INTERVAL while the campaign runs, with
//! Pause / Resume / Cancel buttons (handled by the bot, which calls our API),
//! and turned into a summary when it ends.
//!
//! Every replica runs the loop; a Redis claim per campaign and interval lets
//! exactly one of them edit, so the chat never sees more than one edit per
//! interval however many replicas run.

use super::Inner;
use crate::store::{self, COLUMNS, Campaign, Counts};
use runtime::ServiceError;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use telegram::{Bot, TgError};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// How long a progress edit may wait out Telegram's per-chat limit (the
/// admin's chat also gets previews and dialog replies).
const PATIENCE: Duration = Duration::from_secs(10);

/// What one attempt at showing the state did.
enum Shown {
    Yes,
    /// The first message is being sent by someone else; its text may be
    /// older than this state.
    BeingSentElsewhere,
}

#[derive(Clone)]
pub struct Progress {
    db: PgPool,
    cache: cache::Cache,
    /// Paced through the token's budget like any reply.
    bot: Bot,
    interval: Duration,
    counts: Arc<store::CountsCache>,
}

impl Progress {
    pub fn new(
        db: PgPool,
        cache: cache::Cache,
        bot: Bot,
        interval: Duration,
        counts: Arc<store::CountsCache>,
    ) -> Progress {
        Progress {
            db,
            cache,
            bot,
            interval,
            counts,
        }
    }

    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// Shows the campaign's state now (at a start, pause, resume, cancel or
    /// end). A live campaign's failures are logged and the next interval
    /// tries again; the final summary has no next interval, so it is retried
    /// here a few times.
    pub async fn update_now(&self, c: &Campaign) {
        let tries = if c.is_terminal() { 4 } else { 1 };
        for attempt in 1..=tries {
            match self.update(c).await {
                Ok(Shown::Yes) => return,
                // Another task (this campaign's start, another replica) is
                // sending the first message right now, with whatever state it
                // read. A live campaign's next interval edits it; a summary has
                // no next interval, so it waits for the message id and edits.
                Ok(Shown::BeingSentElsewhere) if attempt < tries => {
                    tokio::time::sleep(Duration::from_secs(attempt)).await;
                }
                Ok(Shown::BeingSentElsewhere) => {
                    if c.is_terminal() {
                        tracing::warn!(campaign = %c.id, "summary not shown: the progress message was still being sent");
                    }
                    return;
                }
                Err(e) if attempt < tries => {
                    tracing::debug!(campaign = %c.id, error = %e, "progress summary not shown yet; retrying");
                    tokio::time::sleep(Duration::from_secs(attempt)).await;
                }
                Err(e) => {
                    tracing::warn!(campaign = %c.id, error = %e, "progress message not updated")
                }
            }
        }
    }

    async fn update(&self, c: &Campaign) -> Result<Shown, ServiceError> {
        let Some(chat) = c.progress_chat_id else {
            return Ok(Shown::Yes);
        };
        if matches!(c.status.as_str(), "draft" | "recurring") {
            return Ok(Shown::Yes);
        }
        // A draft cancelled in the dialog (Edit, /cancel) never had a message
        // and needs none.
        if c.status == "cancelled" && c.progress_message_id.is_none() && c.started_at.is_none() {
            return Ok(Shown::Yes);
        }
        // Re-read: the caller's copy may predate the last outcomes.
        let c = store::load(&self.db, c.id).await?;
        let counts = self.counts.counts(&self.db, &c).await?;
        let lang = admin_language(&self.db, chat).await;
        let (text, keyboard) = render(&c, &counts, lang, OffsetDateTime::now_utc());
        match c.progress_message_id {
            // Being sent by another replica (or left by one that crashed:
            // `create` takes a stale claim over).
            None | Some(0) => self.create(&c, chat, &text, keyboard).await,
            Some(message_id) => {
                let params = json!({
                    "chat_id": chat, "message_id": message_id, "text": text,
                    "parse_mode": "HTML", "reply_markup": keyboard,
                });
                match self
                    .bot
                    .call_patiently::<Value>("editMessageText", &params, PATIENCE)
                    .await
                {
                    Ok(_) | Err(TgError::NotModified) => Ok(Shown::Yes),
                    Err(e) => Err(ServiceError::Unavailable(format!("telegram: {e}"))),
                }
            }
        }
    }

    /// Sends the message once: 0 in progress_message_id claims the right to.
    async fn create(
        &self,
        c: &Campaign,
        chat: i64,
        text: &str,
        keyboard: Value,
    ) -> Result<Shown, ServiceError> {
        let claimed = sqlx::query(
            "UPDATE campaigns SET progress_message_id = 0, progress_claimed_at = now()
             WHERE id = $1 AND (progress_message_id IS NULL
                 OR (progress_message_id = 0 AND progress_claimed_at < now() - interval '30 seconds'))",
        )
        .bind(c.id)
        .execute(&self.db)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(Shown::BeingSentElsewhere);
        }
        let params = json!({
            "chat_id": chat, "text": text, "parse_mode": "HTML", "reply_markup": keyboard,
        });
        let sent = self
            .bot
            .call_patiently::<Value>("sendMessage", &params, PATIENCE)
            .await;
        let id = sent
            .as_ref()
            .ok()
            .and_then(|m| m.get("message_id"))
            .and_then(Value::as_i64);
        // On failure the claim is given back, so a later interval retries.
        sqlx::query("UPDATE campaigns SET progress_message_id = $2 WHERE id = $1")
            .bind(c.id)
            .bind(id)
            .execute(&self.db)
            .await?;
        sent.map(|_| Shown::Yes)
            .map_err(|e| ServiceError::Unavailable(format!("telegram: {e}")))
    }
}

async fn admin_language(db: &PgPool, chat: i64) -> Lang {
    let code: Option<Option<String>> =
        sqlx::query_scalar("SELECT language_code FROM users WHERE id = $1")
            .bind(chat)
            .fetch_optional(db)
            .await
            .ok()
            .flatten();
    match code.flatten() {
        Some(c) if c.starts_with("ru") => Lang::Ru,
        _ => Lang::En,
    }
}

/// Edits every live campaign's message once per interval, on one replica.
pub(super) async fn run(inner: Arc<Inner>, shutdown: CancellationToken) {
    let p = &inner.progress;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(p.interval) => {}
        }
        let live: Vec<Campaign> = match sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM campaigns
             WHERE status = ANY($1) AND progress_chat_id IS NOT NULL"
        )))
        .bind(&store::LIVE[..])
        .fetch_all(&p.db)
        .await
        {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "progress: cannot list live campaigns");
                continue;
            }
        };
        for c in live {
            // Held for one interval: at most one edit per interval, however
            // many replicas and whatever their loops' phase.
            let key = format!("bc:progress:{}", c.id);
            if matches!(p.cache.claim(&key, p.interval).await, Ok(true)) {
                p.update_now(&c).await;
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    En,
    Ru,
}

/// The message text and its buttons.
pub fn render(c: &Campaign, n: &Counts, lang: Lang, now: OffsetDateTime) -> (String, Value) {
    let ru = lang == Lang::Ru;
    let total = c.recipients.max(n.total());
    let pct = if total > 0 {
        n.settled() * 100 / total
    } else {
        100
    };
    let filled = (pct / 10) as usize;
    let bar = format!("{}{}", "▓".repeat(filled), "░".repeat(10 - filled.min(10)));
    let status = match (c.status.as_str(), ru) {
        ("running", false) => "sending",
        ("running", true) => "идёт рассылка",
        ("paused", false) => "paused",
        ("paused", true) => "на паузе",
        ("done", false) => "finished",
        ("done", true) => "завершена",
        ("cancelled", false) => "cancelled",
        ("cancelled", true) => "отменена",
        ("scheduled", false) => "scheduled",
        ("scheduled", true) => "запланирована",
        (other, _) => other,
    };
    let title = if c.title.is_empty() {
        c.id.to_string()[..8].to_string()
    } else {
        html_escape(&c.title)
    };
    let (rate, eta) = c.rate_and_eta(n, now);
    // After a cancel, what is left was never sent and never will be.
    let not_sent = match (c.status == "cancelled", ru) {
        (true, false) => "Not sent",
        (true, true) => "Не отправлено",
        (false, false) => "Pending",
        (false, true) => "В очереди",
    };
    let mut text = if ru {
        format!(
            "📣 <b>Рассылка {title}</b>: {status}\n{bar} {pct}%\n\
             Отправлено: {}\nОшибки: {}\nЗаблокировали: {}\n{}: {}\nНеизвестно: {}\nВсего: {total}",
            n.sent,
            n.failed,
            n.blocked,
            not_sent,
            n.pending + n.sending,
            n.unknown
        )
    } else {
        format!(
            "📣 <b>Campaign {title}</b>: {status}\n{bar} {pct}%\n\
             Sent: {}\nFailed: {}\nBlocked: {}\n{}: {}\nUnknown: {}\nRecipients: {total}",
            n.sent,
            n.failed,
            n.blocked,
            not_sent,
            n.pending + n.sending,
            n.unknown
        )
    };
    if rate > 0.0 {
        if ru {
            text.push_str(&format!("\nСкорость: {rate:.1} сообщ./с"));
        } else {
            text.push_str(&format!("\nRate: {rate:.1} msg/s"));
        }
        if c.status == "running" && eta > 0 {
            text.push_str(&format!(
                "\n{}: {}",
                if ru { "Осталось" } else { "ETA" },
                human_duration(eta)
            ));
        }
    }
    let id = c.id;
    let button = |en: &str, ru_text: &str, action: &str| json!({"text": if ru { ru_text } else { en }, "callback_data": format!("bc:{action}:{id}")});
    let row = match c.status.as_str() {
        "running" => vec![
            button("⏸ Pause", "⏸ Пауза", "pause"),
            button("✖ Cancel", "✖ Отменить", "cancel"),
        ],
        "paused" => vec![
            button("▶ Resume", "▶ Продолжить", "resume"),
            button("✖ Cancel", "✖ Отменить", "cancel"),
        ],
        _ => vec![],
    };
    let keyboard = if row.is_empty() {
        json!({"inline_keyboard": []})
    } else {
        json!({"inline_keyboard": [row]})
    };
    (text, keyboard)
}

fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

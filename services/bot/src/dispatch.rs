//! Turns one Telegram update into the bot's reaction.

use crate::broadcast;
use crate::purchase::{DIALOG_SCOPE, Dialog};
use crate::texts::{self, Lang, cb};
use crate::users;
use proto::broadcast::broadcast_client::BroadcastClient;
use proto::payments::payments_client::PaymentsClient;
use runtime::ServiceError;
use runtime::grpc::TracedChannel;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use telegram::{
    Bot, CallbackQuery, ChatMemberUpdated, Message, SendOptions, TgError, Update, User,
};

/// How long a reply may wait out Telegram's flood limits. Failing the update
/// instead would make Telegram redeliver it and repeat what it already did.
const REPLY_PATIENCE: Duration = Duration::from_secs(10);
/// `users.last_seen_at` feeds "active within N days" segments, so a write
/// per user every few minutes is plenty; in between, a marker read from a
/// Redis replica saves Postgres a write on every message.
const SEEN_EVERY: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct Dispatcher {
    pub db: PgPool,
    pub tg: Bot,
    pub cache: cache::Cache,
    pub payments: PaymentsClient<TracedChannel>,
    pub broadcast: BroadcastClient<TracedChannel>,
    /// `ADMIN_IDS`: who may broadcast and see `/stats` and `/campaigns`.
    pub admins: Arc<[i64]>,
    pub rate_limit: cache::RateLimit,
}

impl Dispatcher {
    pub fn is_admin(&self, user_id: i64) -> bool {
        self.admins.contains(&user_id)
    }

    /// Returns whether the update carried anything the bot acts on.
    pub async fn handle(&self, update: &Update) -> Result<bool, ServiceError> {
        if let Some(c) = &update.my_chat_member {
            // Not user traffic: never rate limited.
            return self.on_member_change(c).await.map(|_| true);
        }
        if let Some(from) = update.from()
            && !self
                .within_rate_limit(from, update.chat_id(), ends_dialog(update))
                .await?
        {
            return Ok(false);
        }
        if let Some(m) = &update.message {
            return self.on_message(m).await.map(|_| true);
        }
        if let Some(q) = &update.callback_query {
            return self.on_callback(q).await.map(|_| true);
        }
        Ok(false)
    }

    /// Records that the user is active, at most once per [`SEEN_EVERY`].
    /// Without Redis every message writes, as it would with no marker.
    async fn touch(&self, user_id: i64) -> Result<(), ServiceError> {
        let key = format!("seen:{user_id}");
        if let Ok(Some(_)) = self.cache.get_cached(&key).await {
            return Ok(());
        }
        users::touch(&self.db, user_id).await?;
        if let Err(e) = self.cache.set_cached(&key, "1", SEEN_EVERY).await {
            tracing::debug!(error = %e, "last-seen marker not cached");
        }
        Ok(())
    }

    /// The per-user limit, shared by every bot replica through Redis. Over the
    /// limit the user hears about it once per window, not once per message.
    /// `ends_dialog`: the update is a command, which leaves a half-finished
    /// dialog; the dialog ends in the limiter's round trip when it is allowed.
    async fn within_rate_limit(
        &self,
        from: &User,
        chat_id: i64,
        ends_dialog: bool,
    ) -> Result<bool, ServiceError> {
        let decision = self
            .cache
            .rate_limit_ending_session(
                &format!("user:{}", from.id),
                self.rate_limit,
                ends_dialog.then_some((DIALOG_SCOPE, from.id)),
            )
            .await?;
        if decision.allowed {
            return Ok(true);
        }
        metrics::counter!("bot_rate_limited_total").increment(1);
        let window = decision.retry_after.max(Duration::from_secs(1));
        if chat_id != 0
            && self
                .cache
                .claim(&format!("rl:notice:{}", from.id), window)
                .await?
        {
            let lang = Lang::from_code(from.language_code.as_deref());
            let text = texts::rate_limited(lang, window.as_secs_f64().ceil() as u64);
            self.send(chat_id, &text, &SendOptions::default()).await?;
        }
        Ok(false)
    }

    async fn on_message(&self, m: &Message) -> Result<(), ServiceError> {
        let Some(from) = &m.from else { return Ok(()) };
        // Groups are not a sales channel; answer only private chats.
        if m.chat.kind != "private" {
            return Ok(());
        }
        let lang = Lang::from_code(from.language_code.as_deref());
        let text = m.text.as_deref().unwrap_or("");
        let chat = m.chat.id;
        let cmd = command(text);
        let admin = self.is_admin(from.id);
        let mut left_broadcast = false;
        // Any command leaves a half-finished dialog: the purchase dialog has
        // ended with the rate limit already (`ends_dialog`), the broadcast
        // dialog ends here.
        if cmd.is_some() && admin {
            left_broadcast = self.leave_broadcast(from.id).await?;
        }
        match cmd {
            Some("start") => {
                let subscribed = users::register(&self.db, from).await?;
                let opts = SendOptions::html().with_keyboard(texts::main_menu(lang));
                return self
                    .send(
                        chat,
                        &texts::welcome(lang, &from.first_name, subscribed),
                        &opts,
                    )
                    .await;
            }
            Some(_) | None => self.touch(from.id).await?,
        }
        match cmd {
            Some("help") if admin => {
                let text = format!("{}{}", texts::help(lang), texts::admin_help(lang));
                self.send(chat, &text, &SendOptions::html()).await
            }
            Some("help") => {
                self.send(chat, texts::help(lang), &SendOptions::html())
                    .await
            }
            Some("buy") => self.show_packs(chat, lang).await,
            Some("balance") => self.show_balance(chat, from.id, lang).await,
            Some("history") => self.show_history(chat, from.id, lang).await,
            Some("subscribe") => self.set_subscription(chat, from, true, lang).await,
            Some("unsubscribe") => self.set_subscription(chat, from, false, lang).await,
            Some("broadcast") if admin => self.start_broadcast(chat, from.id, lang).await,
            Some("stats") if admin => self.show_stats(chat, lang).await,
            Some("campaigns") if admin => self.show_campaigns(chat, lang).await,
            Some("cancel") if left_broadcast => {
                let text = broadcast::texts::dialog_cancelled(lang);
                self.show_menu(chat, lang, text).await
            }
            Some("cancel") => self.show_menu(chat, lang, texts::cancelled(lang)).await,
            Some(_) => {
                self.send(chat, texts::unknown(lang), &SendOptions::default())
                    .await
            }
            None => {
                if admin
                    && let Some(compose) = self
                        .cache
                        .session_get::<broadcast::state::Compose>(broadcast::SCOPE, from.id)
                        .await?
                {
                    return self.on_broadcast_message(m, from.id, lang, compose).await;
                }
                match self
                    .cache
                    .session_get::<Dialog>(DIALOG_SCOPE, from.id)
                    .await?
                {
                    Some(Dialog::CustomAmount) => {
                        self.on_custom_amount(chat, from.id, text, lang).await
                    }
                    None => {
                        self.send(chat, texts::unknown(lang), &SendOptions::default())
                            .await
                    }
                }
            }
        }
    }

    /// `/subscribe`, `/unsubscribe`: news broadcasts on or off.
    async fn set_subscription(
        &self,
        chat: i64,
        from: &User,
        subscribed: bool,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        users::set_subscribed(&self.db, from, subscribed).await?;
        tracing::info!(user = from.id, subscribed, "news subscription changed");
        self.send(
            chat,
            texts::subscription(lang, subscribed),
            &SendOptions::default(),
        )
        .await
    }

    async fn on_callback(&self, q: &CallbackQuery) -> Result<(), ServiceError> {
        let lang = Lang::from_code(q.from.language_code.as_deref());
        let chat = q.message.as_ref().map(|m| m.chat.id).unwrap_or(q.from.id);
        let user = q.from.id;
        let data = q.data.as_deref().unwrap_or("");
        // These answer with a text of their own.
        if data == cb::UNSUB {
            users::set_subscribed(&self.db, &q.from, false).await?;
            tracing::info!(user, "unsubscribed with the button");
            self.answer(&q.id, Some(texts::unsubscribed_answer(lang)))
                .await;
            return self
                .send(
                    chat,
                    texts::subscription(lang, false),
                    &SendOptions::default(),
                )
                .await;
        }
        if let Some(rest) = data.strip_prefix(broadcast::texts::cb::PROGRESS_PREFIX) {
            return self.on_progress_button(q, rest, lang).await;
        }
        if data.starts_with(broadcast::texts::cb::DIALOG_PREFIX) {
            return self.on_broadcast_button(q, data, lang).await;
        }
        // Answer first: the client shows a spinner until we do.
        self.answer(&q.id, None).await;
        match data {
            cb::HELP => {
                self.send(chat, texts::help(lang), &SendOptions::html())
                    .await
            }
            cb::BUY => self.show_packs(chat, lang).await,
            cb::BALANCE => self.show_balance(chat, user, lang).await,
            cb::HISTORY => self.show_history(chat, user, lang).await,
            cb::CUSTOM => self.ask_custom_amount(chat, user, lang).await,
            cb::CANCEL => {
                self.cache.session_clear(DIALOG_SCOPE, user).await?;
                self.show_menu(chat, lang, texts::cancelled(lang)).await
            }
            _ => {
                if let Some(stars) = data
                    .strip_prefix(cb::BUY_PREFIX)
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    self.buy(chat, user, stars, lang, &q.id).await
                } else if let Some(order_id) = data.strip_prefix(cb::CHECK_PREFIX) {
                    self.check(chat, user, order_id, lang).await
                } else {
                    tracing::info!(data, "unknown button pressed");
                    Ok(())
                }
            }
        }
    }

    async fn show_menu(&self, chat: i64, lang: Lang, text: &str) -> Result<(), ServiceError> {
        let opts = SendOptions::default().with_keyboard(texts::main_menu(lang));
        self.send(chat, text, &opts).await
    }

    async fn on_member_change(&self, c: &ChatMemberUpdated) -> Result<(), ServiceError> {
        // In a private chat this arrives only when the user blocks or unblocks the bot.
        if c.chat.kind != "private" {
            return Ok(());
        }
        match c.new_chat_member.status.as_str() {
            "kicked" => users::mark_unreachable(&self.db, c.from.id, "blocked the bot").await?,
            "member" => users::mark_reachable(&self.db, c.from.id).await?,
            _ => {}
        }
        Ok(())
    }

    /// Answers a button press (with a short notice when `text` is given).
    pub(crate) async fn answer(&self, query_id: &str, text: Option<&str>) {
        // A late or failed answer only leaves a spinner; never fail the update for it.
        if let Err(e) = self.tg.answer_callback_query(query_id, text).await {
            tracing::warn!(error = %e, "answerCallbackQuery failed");
        }
    }

    /// Sends a reply, reacting to Telegram's answer the same way everywhere.
    pub async fn send(
        &self,
        chat_id: i64,
        text: &str,
        opts: &SendOptions,
    ) -> Result<(), ServiceError> {
        match self
            .tg
            .send_message_patiently(chat_id, text, opts, REPLY_PATIENCE)
            .await
        {
            Ok(_) => Ok(()),
            Err(TgError::Unreachable(reason)) => {
                users::mark_unreachable(&self.db, chat_id, &reason).await?;
                Ok(())
            }
            Err(e) if e.is_transient() => Err(ServiceError::Unavailable(format!("telegram: {e}"))),
            Err(e) => {
                // Our request was wrong: redelivery would fail the same way.
                tracing::error!(error = %e, chat_id, "telegram rejected a reply");
                Ok(())
            }
        }
    }
}

/// Whether the update is a command in a private chat, the messages
/// [`Dispatcher::on_message`] answers as commands.
fn ends_dialog(update: &Update) -> bool {
    update.message.as_ref().is_some_and(|m| {
        m.from.is_some()
            && m.chat.kind == "private"
            && command(m.text.as_deref().unwrap_or("")).is_some()
    })
}

/// The command of a message ("/start@my_bot payload" → "start").
fn command(text: &str) -> Option<&str> {
    let first = text.split_whitespace().next()?;
    let cmd = first.strip_prefix('/')?;
    Some(cmd.split('@').next().unwrap_or(cmd))
}

#[cfg(test)]
mod tests {
    use super::command;

    #[test]
    fn commands_are_recognised_with_bot_suffix_and_payload() {
        assert_eq!(command("/start"), Some("start"));
        assert_eq!(command("/start@stars_bot ref42"), Some("start"));
        assert_eq!(command("  /help  "), Some("help"));
        assert_eq!(command("hello"), None);
        assert_eq!(command(""), None);
    }
}

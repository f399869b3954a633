//! Turns one Telegram update into the bot's reaction.

use crate::texts::{self, Lang, cb};
use crate::users;
use runtime::ServiceError;
use sqlx::PgPool;
use std::time::Duration;
use telegram::{Bot, CallbackQuery, ChatMemberUpdated, Message, SendOptions, TgError, Update};

/// Longest flood wait absorbed inline; longer ones fail the update so
/// Telegram redelivers it later instead of holding the chat's queue.
const MAX_INLINE_RETRY_AFTER: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Dispatcher {
    pub db: PgPool,
    pub tg: Bot,
}

impl Dispatcher {
    /// Returns whether the update carried anything the bot acts on.
    pub async fn handle(&self, update: &Update) -> Result<bool, ServiceError> {
        if let Some(m) = &update.message {
            return self.on_message(m).await.map(|_| true);
        }
        if let Some(q) = &update.callback_query {
            return self.on_callback(q).await.map(|_| true);
        }
        if let Some(c) = &update.my_chat_member {
            return self.on_member_change(c).await.map(|_| true);
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
        match command(text) {
            Some("start") => {
                users::register(&self.db, from).await?;
                let opts = SendOptions::html().with_keyboard(texts::main_menu(lang));
                self.send(m.chat.id, &texts::welcome(lang, &from.first_name), &opts).await
            }
            Some("help") => {
                users::touch(&self.db, from.id).await?;
                self.send(m.chat.id, texts::help(lang), &SendOptions::html()).await
            }
            _ => {
                users::touch(&self.db, from.id).await?;
                self.send(m.chat.id, texts::unknown(lang), &SendOptions::default()).await
            }
        }
    }

    async fn on_callback(&self, q: &CallbackQuery) -> Result<(), ServiceError> {
        let lang = Lang::from_code(q.from.language_code.as_deref());
        let chat_id = q.message.as_ref().map(|m| m.chat.id).unwrap_or(q.from.id);
        // Answer first: the client shows a spinner until we do.
        self.answer(&q.id, None).await;
        match q.data.as_deref() {
            Some(cb::HELP) => self.send(chat_id, texts::help(lang), &SendOptions::html()).await,
            Some(cb::BUY | cb::BALANCE | cb::HISTORY) => {
                let opts = SendOptions::html().with_keyboard(texts::main_menu(lang));
                self.send(chat_id, texts::help(lang), &opts).await
            }
            _ => Ok(()),
        }
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

    async fn answer(&self, query_id: &str, text: Option<&str>) {
        // A late or failed answer only leaves a spinner; never fail the update for it.
        if let Err(e) = self.tg.answer_callback_query(query_id, text).await {
            tracing::warn!(error = %e, "answerCallbackQuery failed");
        }
    }

    /// Sends a reply, reacting to Telegram's answer the same way everywhere.
    pub async fn send(&self, chat_id: i64, text: &str, opts: &SendOptions) -> Result<(), ServiceError> {
        let mut retried = false;
        loop {
            match self.tg.send_message(chat_id, text, opts).await {
                Ok(_) => return Ok(()),
                Err(TgError::RetryAfter(d)) if !retried && d <= MAX_INLINE_RETRY_AFTER => {
                    retried = true;
                    tokio::time::sleep(d).await;
                }
                Err(TgError::Unreachable(reason)) => {
                    users::mark_unreachable(&self.db, chat_id, &reason).await?;
                    return Ok(());
                }
                Err(e @ (TgError::RetryAfter(_) | TgError::Transient(_))) => {
                    return Err(ServiceError::Unavailable(format!("telegram: {e}")));
                }
                Err(e) => {
                    // Our request was wrong: redelivery would fail the same way.
                    tracing::error!(error = %e, chat_id, "telegram rejected a reply");
                    return Ok(());
                }
            }
        }
    }
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

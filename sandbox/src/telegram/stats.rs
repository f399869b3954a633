//! Figures a broadcast test asserts on: what each chat received.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::files::FileKind;
use super::state::{Chat, StoredMessage};

/// A message the bot put in a chat, as the chat shows it now (after any edits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMessage {
    pub message_id: i64,
    /// `sendMessage`, `sendPhoto`, `copyMessage`...
    pub method: String,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub parse_mode: Option<String>,
    pub entities: Option<Value>,
    pub media_kind: Option<FileKind>,
    /// The attached file (a photo's largest size).
    pub file_id: Option<String>,
    pub reply_markup: Option<Value>,
    /// For a copy: the (from_chat_id, message_id) it was copied from.
    pub copied_from: Option<(i64, i64)>,
    pub paid: bool,
    pub date: i64,
}

pub(crate) fn sent_messages(chat: &Chat) -> Vec<SentMessage> {
    let mut ids: Vec<i64> = chat
        .messages
        .iter()
        .filter(|(_, m)| m.from_bot)
        .map(|(id, _)| *id)
        .collect();
    ids.sort_unstable();
    ids.into_iter()
        .map(|id| sent_message(id, &chat.messages[&id]))
        .collect()
}

fn sent_message(message_id: i64, m: &StoredMessage) -> SentMessage {
    SentMessage {
        message_id,
        method: m.method.to_owned(),
        text: m.text.clone(),
        caption: m.caption.clone(),
        parse_mode: m.parse_mode.clone(),
        entities: m.entities.clone(),
        media_kind: m.media.as_ref().map(|media| media.kind),
        file_id: m
            .media
            .as_ref()
            .and_then(|media| media.file_id())
            .map(str::to_owned),
        reply_markup: m.reply_markup.clone(),
        copied_from: m.copied_from,
        paid: m.paid,
        date: m.date,
    }
}

//! Figures a broadcast test asserts on: the peak send rate of a token, how many 429s were
//! answered, and what each chat received.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::files::FileKind;
use super::methods::SEND_METHODS;
use super::state::{Chat, StoredMessage};
use super::{RecordedCall, params};

/// The most successful send calls of one token in any sliding 1-second window, by recorded time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendPeaks {
    /// All sends, paid or not.
    pub total: usize,
    /// Sends with `allow_paid_broadcast: true` (Telegram's 1000/s budget).
    pub paid: usize,
    /// Ordinary sends (the 30/s budget).
    pub ordinary: usize,
}

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

pub(crate) fn is_send(call: &RecordedCall) -> bool {
    call.ok() && SEND_METHODS.contains(&call.method.as_str())
}

pub(crate) fn send_peaks<'a>(
    calls: impl Iterator<Item = &'a RecordedCall>,
    token: &str,
) -> SendPeaks {
    let mut all = Vec::new();
    let mut paid = Vec::new();
    let mut ordinary = Vec::new();
    for call in calls.filter(|c| c.token == token && is_send(c)) {
        all.push(call.at);
        if params::boolean(&call.params, "allow_paid_broadcast") {
            paid.push(call.at);
        } else {
            ordinary.push(call.at);
        }
    }
    SendPeaks {
        total: peak(all),
        paid: peak(paid),
        ordinary: peak(ordinary),
    }
}

/// The largest number of instants within less than one second of each other.
fn peak(mut times: Vec<SystemTime>) -> usize {
    // Records are appended in time order; sorting keeps this right for any input.
    times.sort_unstable();
    let window = Duration::from_secs(1);
    let mut best = 0;
    let mut first = 0;
    for (last, at) in times.iter().enumerate() {
        while at.duration_since(times[first]).unwrap_or_default() >= window {
            first += 1;
        }
        best = best.max(last - first + 1);
    }
    best
}

/// Per token, the peaks of every token that sent anything.
pub(crate) fn peaks_by_token<'a>(
    calls: impl Iterator<Item = &'a RecordedCall> + Clone,
) -> BTreeMap<String, SendPeaks> {
    let mut tokens: Vec<&str> = calls.clone().map(|c| c.token.as_str()).collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens
        .into_iter()
        .map(|t| (t.to_owned(), send_peaks(calls.clone(), t)))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn the_peak_is_over_any_sliding_second_not_calendar_seconds() {
        // 0.6 s and 1.4 s straddle a calendar second yet are within one second of each other.
        assert_eq!(peak(vec![at(600), at(1400), at(1500), at(2600)]), 3);
        assert_eq!(peak(vec![at(0), at(1000)]), 1, "exactly one second apart");
        assert_eq!(peak(vec![]), 0);
        assert_eq!(peak(vec![at(5), at(5), at(5)]), 3);
    }
}

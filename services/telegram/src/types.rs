//! The parts of the Bot API's types the fleet reads. Unknown fields are
//! ignored, so new Telegram fields never break parsing.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub edited_message: Option<Message>,
    #[serde(default)]
    pub callback_query: Option<CallbackQuery>,
    #[serde(default)]
    pub my_chat_member: Option<ChatMemberUpdated>,
}

impl Update {
    /// The chat this update belongs to, for per-chat ordering (0 when none).
    pub fn chat_id(&self) -> i64 {
        if let Some(m) = self.message.as_ref().or(self.edited_message.as_ref()) {
            return m.chat.id;
        }
        if let Some(q) = &self.callback_query {
            return q.message.as_ref().map(|m| m.chat.id).unwrap_or(q.from.id);
        }
        if let Some(c) = &self.my_chat_member {
            return c.chat.id;
        }
        0
    }

    /// The user who caused the update.
    pub fn from(&self) -> Option<&User> {
        if let Some(m) = self.message.as_ref().or(self.edited_message.as_ref()) {
            return m.from.as_ref();
        }
        if let Some(q) = &self.callback_query {
            return Some(&q.from);
        }
        self.my_chat_member.as_ref().map(|c| &c.from)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Message {
    pub message_id: i64,
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    #[serde(default)]
    pub date: i64,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: User,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub data: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChatMember {
    pub status: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChatMemberUpdated {
    pub chat: Chat,
    pub from: User,
    pub new_chat_member: ChatMember,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct InlineKeyboardButton {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl InlineKeyboardButton {
    pub fn callback(text: impl Into<String>, data: impl Into<String>) -> Self {
        InlineKeyboardButton {
            text: text.into(),
            callback_data: Some(data.into()),
            url: None,
        }
    }

    pub fn link(text: impl Into<String>, url: impl Into<String>) -> Self {
        InlineKeyboardButton {
            text: text.into(),
            callback_data: None,
            url: Some(url.into()),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct InlineKeyboardMarkup {
    pub inline_keyboard: Vec<Vec<InlineKeyboardButton>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_id_comes_from_whichever_payload_is_present() {
        let u: Update = serde_json::from_str(
            r#"{"update_id":5,"callback_query":{"id":"q","from":{"id":7,"first_name":"A"},
                "message":{"message_id":1,"chat":{"id":70,"type":"private"}},"data":"x"}}"#,
        )
        .unwrap();
        assert_eq!(u.chat_id(), 70);
        let u: Update = serde_json::from_str(
            r#"{"update_id":6,"my_chat_member":{"chat":{"id":9,"type":"private"},"from":{"id":9,"first_name":"B"},
                "new_chat_member":{"status":"kicked","user":{"id":1}},"date":0,"old_chat_member":{"status":"member"}}}"#,
        )
        .unwrap();
        assert_eq!(u.chat_id(), 9);
        let u: Update = serde_json::from_str(r#"{"update_id":7,"poll":{"id":"p"}}"#).unwrap();
        assert_eq!(u.chat_id(), 0);
    }
}

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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
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
    /// Formatting of `text` (offsets and lengths in UTF-16 code units).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<MessageEntity>,
    /// Formatting of `caption`, like `entities`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caption_entities: Vec<MessageEntity>,
    /// A photo in the sizes Telegram made of it, smallest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photo: Vec<PhotoSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Attachment>,
    /// Also set (with the same file) on an animation, for old clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Attachment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animation: Option<Attachment>,
    /// Where a forwarded message came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_origin: Option<MessageOrigin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_group_id: Option<String>,
}

/// A formatted span of a message (`bold`, `text_link`, `pre`...).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct MessageEntity {
    #[serde(rename = "type")]
    pub kind: String,
    /// In UTF-16 code units, as everywhere in the Bot API.
    pub offset: usize,
    pub length: usize,
    /// `text_link`: the URL opened on tap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `pre`: the programming language of the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `text_mention`: the user mentioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// `custom_emoji`: the sticker behind the emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_emoji_id: Option<String>,
}

impl MessageEntity {
    pub fn new(kind: &str, offset: usize, length: usize) -> Self {
        MessageEntity {
            kind: kind.to_string(),
            offset,
            length,
            url: None,
            language: None,
            user: None,
            custom_emoji_id: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct PhotoSize {
    pub file_id: String,
    #[serde(default)]
    pub file_unique_id: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

/// A video, document or animation: the fields the three share.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Attachment {
    pub file_id: String,
    #[serde(default)]
    pub file_unique_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

/// `forward_origin`: `user`, `hidden_user`, `chat` or `channel`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct MessageOrigin {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub date: i64,
    /// `channel`: the channel the post is from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<Chat>,
    /// `channel`: the post's id in that channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
}

/// What `getFile` answers: `file_path` is downloaded from the file base.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct File {
    pub file_id: String,
    #[serde(default)]
    pub file_unique_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
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

    #[test]
    fn media_entities_and_forward_origins_are_read() {
        let m: Message = serde_json::from_str(
            r#"{"message_id":3,"chat":{"id":1,"type":"private"},"caption":"Hi there",
                "caption_entities":[{"type":"text_link","offset":0,"length":2,"url":"https://x.io"}],
                "photo":[{"file_id":"s","file_unique_id":"a","width":90,"height":90},
                         {"file_id":"l","file_unique_id":"b","width":800,"height":800,"file_size":5000}],
                "forward_origin":{"type":"channel","date":5,"chat":{"id":-100,"type":"channel"},"message_id":42}}"#,
        )
        .unwrap();
        assert_eq!(m.photo.len(), 2);
        assert_eq!(m.caption_entities[0].url.as_deref(), Some("https://x.io"));
        let origin = m.forward_origin.unwrap();
        assert_eq!(
            (origin.kind.as_str(), origin.message_id),
            ("channel", Some(42))
        );
        let d: Message = serde_json::from_str(
            r#"{"message_id":4,"chat":{"id":1,"type":"private"},
                "document":{"file_id":"f","file_unique_id":"u","file_name":"ids.csv","mime_type":"text/csv","file_size":12}}"#,
        )
        .unwrap();
        assert_eq!(d.document.unwrap().file_name.as_deref(), Some("ids.csv"));
    }
}

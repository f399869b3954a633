//! What a simulated user can send the bot besides plain text: formatted text, a photo, video or
//! document with a caption, a post forwarded from a channel. It is what an admin sends to
//! compose a broadcast, so the fake remembers each message for a later copyMessage.

use bytes::Bytes;
use serde_json::{Value, json};

use super::files::{FileKind, Upload};
use super::methods::chat_json;
use super::state::{Media, State, StoredMessage, unix_now};
use super::{Delivery, TgUser, user_json};

/// A message from a simulated user, built like a Telegram client builds it.
///
/// ```
/// # use sandbox::telegram::UserMessage;
/// let post = UserMessage::photo()
///     .caption("Big sale today, -50% in our shop")
///     .bold("Big sale")
///     .link("our shop", "https://shop.example");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserMessage {
    /// The text, or the caption when a file is attached.
    pub text: Option<String>,
    /// Entities of the text or caption, offsets in UTF-16 code units as in the Bot API.
    pub entities: Vec<Value>,
    pub file: Option<Upload>,
    pub forwarded_from: Option<ChannelPost>,
}

/// The channel post a forwarded message comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPost {
    pub chat_id: i64,
    pub title: String,
    pub message_id: i64,
}

/// What [`FakeTelegram::user_sends_message`](super::FakeTelegram::user_sends_message) did: the
/// delivery, and the message as the update carried it (its `message_id`, file ids...).
#[derive(Debug, Clone)]
pub struct UserSent {
    pub delivery: Delivery,
    pub message: Value,
}

impl UserSent {
    pub fn message_id(&self) -> i64 {
        self.message["message_id"].as_i64().unwrap_or_default()
    }

    /// The attached file's id (a photo's largest size), for getFile or a send by file_id.
    pub fn file_id(&self) -> Option<String> {
        let kind = ["photo", "video", "animation", "document"]
            .into_iter()
            .find(|k| self.message.get(*k).is_some())?;
        let file = match &self.message[kind] {
            Value::Array(sizes) => sizes.last()?,
            other => other,
        };
        file["file_id"].as_str().map(str::to_owned)
    }
}

impl UserMessage {
    pub fn text(text: &str) -> Self {
        Self {
            text: Some(text.to_owned()),
            ..Self::default()
        }
    }

    pub fn photo() -> Self {
        Self::file(
            FileKind::Photo,
            Bytes::from_static(b"\xff\xd8\xff\xe0 sandbox photo"),
            None,
        )
    }

    pub fn video() -> Self {
        Self::file(FileKind::Video, Bytes::from_static(b"sandbox video"), None)
    }

    /// A file with these bytes and name, e.g. an uploaded list of user ids (`ids.csv`).
    pub fn document(file_name: &str, bytes: impl Into<Bytes>) -> Self {
        Self::file(FileKind::Document, bytes.into(), Some(file_name.to_owned()))
    }

    fn file(kind: FileKind, bytes: Bytes, file_name: Option<String>) -> Self {
        Self {
            file: Some(Upload {
                kind,
                bytes,
                file_name,
                mime_type: None,
            }),
            ..Self::default()
        }
    }

    /// The caption of the attached file (the same field as the text).
    pub fn caption(mut self, caption: &str) -> Self {
        self.text = Some(caption.to_owned());
        self
    }

    /// Marks the first occurrence of `part` in the text as `kind` (`bold`, `italic`, `code`...).
    /// Panics when the text does not contain it: the test is wrong.
    pub fn entity(mut self, kind: &str, part: &str) -> Self {
        let (offset, length) = self.utf16_span(part);
        self.entities
            .push(json!({"type": kind, "offset": offset, "length": length}));
        self
    }

    pub fn bold(self, part: &str) -> Self {
        self.entity("bold", part)
    }

    pub fn italic(self, part: &str) -> Self {
        self.entity("italic", part)
    }

    /// A `text_link` over `part`, as a client sends a link with its own text.
    pub fn link(mut self, part: &str, url: &str) -> Self {
        let (offset, length) = self.utf16_span(part);
        self.entities
            .push(json!({"type": "text_link", "offset": offset, "length": length, "url": url}));
        self
    }

    /// Entities exactly as given, for shapes the helpers don't build.
    pub fn with_entities(mut self, entities: Vec<Value>) -> Self {
        self.entities = entities;
        self
    }

    /// The message is a forward of post `message_id` of a channel.
    pub fn forwarded_from_channel(mut self, chat_id: i64, title: &str, message_id: i64) -> Self {
        self.forwarded_from = Some(ChannelPost {
            chat_id,
            title: title.to_owned(),
            message_id,
        });
        self
    }

    fn utf16_span(&self, part: &str) -> (usize, usize) {
        let text = self.text.as_deref().unwrap_or_default();
        let Some(at) = text.find(part) else {
            panic!("UserMessage: {part:?} is not in {text:?}");
        };
        (
            text[..at].encode_utf16().count(),
            part.encode_utf16().count(),
        )
    }
}

/// Builds the update and stores the message (and, for a forward, the channel's original) so
/// copyMessage from the user's chat or the channel finds it.
pub(crate) fn message_update(state: &State, user: &TgUser, msg: &UserMessage) -> Value {
    let date = unix_now();
    let mut stored = StoredMessage {
        date,
        entities: (!msg.entities.is_empty()).then(|| json!(msg.entities)),
        ..StoredMessage::default()
    };
    let mut inner = state.lock();
    if let Some(upload) = &msg.file {
        let json = inner.files.upload(upload.clone());
        stored.media = Some(Media {
            kind: upload.kind,
            json,
        });
        stored.caption = msg.text.clone();
    } else {
        stored.text = msg.text.clone();
    }
    if let Some(post) = &msg.forwarded_from {
        stored.forward_origin = Some(forward_origin(post, date));
        remember_channel_post(&mut inner, post, &stored);
    }
    let chat = inner.chat(user.id);
    chat.first_name = Some(user.first_name.clone());
    let message_id = chat.next_message_id();
    chat.messages.insert(message_id, stored.clone());
    drop(inner);
    let message = message_json(user, message_id, &stored);
    json!({"update_id": state.next_update_id(), "message": message})
}

/// The forwarded post exists in its channel too (the bot may copy it from there).
fn remember_channel_post(
    inner: &mut super::state::Inner,
    post: &ChannelPost,
    stored: &StoredMessage,
) {
    let channel = inner.chat(post.chat_id);
    channel.last_message_id = channel.last_message_id.max(post.message_id);
    channel
        .messages
        .entry(post.message_id)
        .or_insert_with(|| StoredMessage {
            forward_origin: None,
            ..stored.clone()
        });
}

fn forward_origin(post: &ChannelPost, date: i64) -> Value {
    json!({
        "type": "channel",
        "chat": {"id": post.chat_id, "type": "channel", "title": post.title},
        "message_id": post.message_id,
        // The post is older than its forward.
        "date": date - 60,
    })
}

fn message_json(user: &TgUser, message_id: i64, m: &StoredMessage) -> Value {
    let mut v = json!({
        "message_id": message_id,
        "from": user_json(user),
        "chat": chat_json(user.id, Some(&user.first_name)),
        "date": m.date,
    });
    if let Some(origin) = &m.forward_origin {
        v["forward_origin"] = origin.clone();
    }
    let entities = m
        .entities
        .clone()
        .or_else(|| command_entity(m.text.as_deref()?));
    match &m.media {
        Some(media) => {
            v[media.kind.field()] = media.json.clone();
            if let Some(caption) = &m.caption {
                v["caption"] = json!(caption);
            }
            if let Some(e) = entities {
                v["caption_entities"] = e;
            }
        }
        None => {
            v["text"] = json!(m.text.as_deref().unwrap_or_default());
            if let Some(e) = entities {
                v["entities"] = e;
            }
        }
    }
    v
}

/// A client marks a leading `/command` as a bot_command entity.
fn command_entity(text: &str) -> Option<Value> {
    let command = leading_command(text)?;
    // Entity offsets and lengths are in UTF-16 code units, as in the Bot API.
    let length = command.encode_utf16().count();
    Some(json!([{"offset": 0, "length": length, "type": "bot_command"}]))
}

pub(crate) fn leading_command(text: &str) -> Option<&str> {
    if !text.starts_with('/') || text.len() < 2 {
        return None;
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    Some(&text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_detected_up_to_whitespace() {
        assert_eq!(leading_command("/start ref42"), Some("/start"));
        assert_eq!(leading_command("hello"), None);
        assert_eq!(leading_command("/"), None);
    }

    #[test]
    fn entity_spans_are_in_utf16_units() {
        // "😀" is two UTF-16 units; "Скидка" six.
        let msg = UserMessage::text("😀 Скидка -50%")
            .bold("Скидка")
            .link("-50%", "https://shop.example");
        assert_eq!(
            msg.entities,
            vec![
                json!({"type": "bold", "offset": 3, "length": 6}),
                json!({"type": "text_link", "offset": 10, "length": 4, "url": "https://shop.example"}),
            ]
        );
    }
}

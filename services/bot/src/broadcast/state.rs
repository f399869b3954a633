//! The broadcast dialog's state, kept in a Redis session between the admin's
//! messages, and its translation into the broadcast service's messages.

use super::entities;
use super::parse::UrlButton;
use proto::broadcast as pb;
use serde::{Deserialize, Serialize};
use telegram::Message;

/// Where the dialog is: what the bot asked last and waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The message to broadcast.
    Content,
    /// URL button lines, or Skip.
    Buttons,
    /// Yes / No: an unsubscribe button under the message.
    UnsubButton,
    /// The audience keyboard.
    Audience,
    /// A language code, for the language segment.
    Language,
    /// A number of days, for "active within" (or "not seen for" when `inactive`).
    Days { inactive: bool },
    /// A .txt / .csv document of user ids.
    List,
    /// The schedule keyboard.
    Schedule,
    /// "YYYY-MM-DD HH:MM".
    At,
    /// "HH:MM".
    Daily,
    /// "mon 09:30".
    Weekly,
    /// Five cron fields.
    Cron,
    /// The draft exists, its preview was sent: Confirm / Edit / Cancel.
    Confirm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Photo,
    Video,
    Document,
    Animation,
}

/// What every recipient receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Text {
        html: String,
    },
    Media {
        media: MediaKind,
        file_id: String,
        caption_html: String,
    },
    /// Sent on with copyMessage from the admin's chat.
    Copy {
        from_chat_id: i64,
        message_id: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "segment", rename_all = "snake_case")]
pub enum Segment {
    All,
    Buyers,
    NonBuyers,
    Language {
        code: String,
    },
    ActiveWithin {
        days: u32,
    },
    InactiveFor {
        days: u32,
    },
    /// The ids live in their own session key (they can be many).
    List {
        ids: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "when", rename_all = "snake_case")]
pub enum When {
    Now,
    /// As typed; the service parses it in its time zone.
    At {
        at: String,
    },
    /// "daily 09:30", "weekly mon 09:30" or five cron fields.
    Recurring {
        cron: String,
    },
}

/// One admin's broadcast being composed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compose {
    pub step: Step,
    #[serde(default)]
    pub body: Option<Body>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub buttons: Vec<UrlButton>,
    #[serde(default)]
    pub unsubscribe_button: bool,
    #[serde(default)]
    pub audience: Option<Segment>,
    #[serde(default)]
    pub recipients: i64,
    #[serde(default)]
    pub ignored_ids: i64,
    #[serde(default)]
    pub when: Option<When>,
    #[serde(default)]
    pub paid: bool,
    /// The draft created for the preview; cancelled when the dialog is left.
    #[serde(default)]
    pub campaign_id: Option<String>,
}

impl Compose {
    pub fn new() -> Compose {
        Compose {
            step: Step::Content,
            body: None,
            title: String::new(),
            buttons: Vec::new(),
            unsubscribe_button: false,
            audience: None,
            recipients: 0,
            ignored_ids: 0,
            when: None,
            paid: false,
            campaign_id: None,
        }
    }

    pub fn content(&self) -> pb::Content {
        pb::Content {
            body: self.body.as_ref().map(body_to_proto),
            buttons: self
                .buttons
                .iter()
                .map(|b| pb::UrlButton {
                    text: b.text.clone(),
                    url: b.url.clone(),
                })
                .collect(),
            unsubscribe_button: self.unsubscribe_button,
            disable_notification: false,
        }
    }
}

impl Default for Compose {
    fn default() -> Self {
        Compose::new()
    }
}

pub fn body_to_proto(b: &Body) -> pb::content::Body {
    match b {
        Body::Text { html } => pb::content::Body::Text(pb::TextBody {
            html: html.clone(),
            disable_link_preview: false,
        }),
        Body::Media {
            media,
            file_id,
            caption_html,
        } => pb::content::Body::Media(pb::MediaBody {
            kind: match media {
                MediaKind::Photo => pb::MediaKind::Photo,
                MediaKind::Video => pb::MediaKind::Video,
                MediaKind::Document => pb::MediaKind::Document,
                MediaKind::Animation => pb::MediaKind::Animation,
            } as i32,
            file_id: file_id.clone(),
            caption_html: caption_html.clone(),
        }),
        Body::Copy {
            from_chat_id,
            message_id,
        } => pb::content::Body::Copy(pb::CopyBody {
            from_chat_id: *from_chat_id,
            message_id: *message_id,
        }),
    }
}

pub fn audience_to_proto(s: &Segment, list: &[i64]) -> pb::Audience {
    let mut a = pb::Audience::default();
    let segment = match s {
        Segment::All => pb::Segment::All,
        Segment::Buyers => pb::Segment::Buyers,
        Segment::NonBuyers => pb::Segment::NonBuyers,
        Segment::Language { code } => {
            a.language = code.clone();
            pb::Segment::Language
        }
        Segment::ActiveWithin { days } => {
            a.days = *days;
            pb::Segment::ActiveWithin
        }
        Segment::InactiveFor { days } => {
            a.days = *days;
            pb::Segment::InactiveFor
        }
        Segment::List { .. } => {
            a.user_ids = list.to_vec();
            pb::Segment::UserIds
        }
    };
    a.segment = segment as i32;
    a
}

pub fn schedule_to_proto(w: &When) -> pb::Schedule {
    let mut s = pb::Schedule::default();
    let kind = match w {
        When::Now => pb::ScheduleKind::Now,
        When::At { at } => {
            s.at = at.clone();
            pb::ScheduleKind::At
        }
        When::Recurring { cron } => {
            s.cron = cron.clone();
            pb::ScheduleKind::Recurring
        }
    };
    s.kind = kind as i32;
    s
}

/// Formatted text or caption as Telegram HTML: converted from the entities
/// when the client formatted it, else taken as the HTML the admin typed.
fn html_of(text: &str, entities: &[telegram::MessageEntity]) -> String {
    if entities::has_formatting(entities) {
        entities::to_html(text, entities)
    } else {
        text.to_string()
    }
}

/// What the admin sent as the campaign's message; `None` when it is nothing
/// a broadcast can carry (a sticker, a voice note, an empty text).
pub fn body_of(m: &Message) -> Option<Body> {
    if m.forward_origin.is_some() {
        return Some(Body::Copy {
            from_chat_id: m.chat.id,
            message_id: m.message_id,
        });
    }
    let caption_html = html_of(m.caption.as_deref().unwrap_or(""), &m.caption_entities);
    let media = |media, file_id: &str| {
        Some(Body::Media {
            media,
            file_id: file_id.to_string(),
            caption_html: caption_html.clone(),
        })
    };
    // The largest size Telegram made of the photo.
    if let Some(p) = m
        .photo
        .iter()
        .max_by_key(|p| (u64::from(p.width) * u64::from(p.height), p.file_size))
    {
        return media(MediaKind::Photo, &p.file_id);
    }
    if let Some(v) = &m.video {
        return media(MediaKind::Video, &v.file_id);
    }
    // An animation also carries `document`: look at it first.
    if let Some(a) = &m.animation {
        return media(MediaKind::Animation, &a.file_id);
    }
    if let Some(d) = &m.document {
        return media(MediaKind::Document, &d.file_id);
    }
    let text = m.text.as_deref().unwrap_or("");
    if text.trim().is_empty() {
        return None;
    }
    Some(Body::Text {
        html: html_of(text, &m.entities),
    })
}

/// A title for `/campaigns`: the message's first words.
pub fn title_of(b: &Body) -> String {
    const MAX: usize = 40;
    match b {
        Body::Text { html } => entities::plain_words(html, MAX),
        Body::Media { caption_html, .. } => entities::plain_words(caption_html, MAX),
        Body::Copy { .. } => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(json: serde_json::Value) -> Message {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn formatted_text_becomes_html_and_unformatted_text_is_taken_as_html() {
        let m = message(serde_json::json!({
            "message_id": 5, "chat": {"id": 9, "type": "private"},
            "text": "Hi {first_name} <3 a.com",
            "entities": [{"type": "bold", "offset": 0, "length": 2}, {"type": "url", "offset": 19, "length": 5}]
        }));
        assert_eq!(
            body_of(&m),
            Some(Body::Text {
                html: "<b>Hi</b> {first_name} &lt;3 a.com".into()
            })
        );
        let typed = message(serde_json::json!({
            "message_id": 5, "chat": {"id": 9, "type": "private"},
            "text": "<b>Sale</b> at https://a.com",
            "entities": [{"type": "url", "offset": 15, "length": 13}]
        }));
        assert_eq!(
            body_of(&typed),
            Some(Body::Text {
                html: "<b>Sale</b> at https://a.com".into()
            })
        );
    }

    #[test]
    fn media_takes_the_largest_photo_and_forwards_are_copied() {
        let photo = message(serde_json::json!({
            "message_id": 5, "chat": {"id": 9, "type": "private"},
            "caption": "New", "caption_entities": [{"type": "italic", "offset": 0, "length": 3}],
            "photo": [{"file_id": "small", "width": 90, "height": 60},
                      {"file_id": "big", "width": 1280, "height": 853},
                      {"file_id": "mid", "width": 320, "height": 213}]
        }));
        assert_eq!(
            body_of(&photo),
            Some(Body::Media {
                media: MediaKind::Photo,
                file_id: "big".into(),
                caption_html: "<i>New</i>".into()
            })
        );
        let gif = message(serde_json::json!({
            "message_id": 5, "chat": {"id": 9, "type": "private"},
            "animation": {"file_id": "anim"}, "document": {"file_id": "anim"}
        }));
        assert!(matches!(
            body_of(&gif),
            Some(Body::Media {
                media: MediaKind::Animation,
                ..
            })
        ));
        let forwarded = message(serde_json::json!({
            "message_id": 77, "chat": {"id": 9, "type": "private"}, "text": "post",
            "forward_origin": {"type": "channel", "date": 1, "chat": {"id": -1001, "type": "channel"}, "message_id": 3}
        }));
        assert_eq!(
            body_of(&forwarded),
            Some(Body::Copy {
                from_chat_id: 9,
                message_id: 77
            })
        );
        let sticker = message(serde_json::json!({
            "message_id": 5, "chat": {"id": 9, "type": "private"}, "sticker": {"file_id": "s"}
        }));
        assert_eq!(body_of(&sticker), None);
    }

    #[test]
    fn the_dialog_state_survives_a_round_trip_through_json() {
        let mut c = Compose::new();
        c.step = Step::Days { inactive: true };
        c.audience = Some(Segment::List { ids: 3 });
        c.when = Some(When::Recurring {
            cron: "daily 09:30".into(),
        });
        c.body = Some(Body::Copy {
            from_chat_id: 1,
            message_id: 2,
        });
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Compose>(&json).unwrap(), c);
    }

    #[test]
    fn daily_and_weekly_are_recurring_schedules() {
        let s = schedule_to_proto(&When::Recurring {
            cron: "weekly mon 09:30".into(),
        });
        assert_eq!(s.kind, pb::ScheduleKind::Recurring as i32);
        assert_eq!(s.cron, "weekly mon 09:30");
        let a = audience_to_proto(&Segment::List { ids: 2 }, &[5, 6]);
        assert_eq!(a.segment, pb::Segment::UserIds as i32);
        assert_eq!(a.user_ids, vec![5, 6]);
    }
}

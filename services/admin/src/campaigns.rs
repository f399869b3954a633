//! Campaigns as the admin API's JSON speaks them, and their translation to
//! and from the broadcast service's gRPC messages. The broadcast service owns
//! every rule (content Telegram would refuse, audiences, schedules, which
//! status allows which operation); this module only changes the notation, so
//! the bot's dialog and the API cannot drift apart on what is accepted.

use proto::broadcast as pb;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    #[serde(default)]
    pub title: String,
    pub content: ContentIn,
    pub audience: AudienceIn,
    /// Now when left out.
    #[serde(default)]
    pub schedule: ScheduleIn,
    /// `allow_paid_broadcast`: up to 1000 messages/s, billed in Stars by Telegram.
    #[serde(default)]
    pub paid: bool,
}

/// Exactly one of `text`, `media` and `copy`.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentIn {
    /// Telegram HTML; `{first_name}`, `{username}`, `{language}`, `{balance}` are filled per recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_link_preview: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaIn>,
    /// A message sent on with copyMessage (e.g. a channel post), formatting and media intact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<CopyIn>,
    #[serde(default)]
    pub buttons: Vec<ButtonIn>,
    #[serde(default)]
    pub unsubscribe_button: bool,
    #[serde(default)]
    pub disable_notification: bool,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaIn {
    pub kind: MediaKind,
    /// A Telegram file_id (or URL) the bot can send.
    pub file_id: String,
    #[serde(default)]
    pub caption: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Photo,
    Video,
    Document,
    Animation,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyIn {
    pub from_chat_id: i64,
    pub message_id: i64,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonIn {
    pub text: String,
    pub url: String,
}

/// Who receives it. Unsubscribed and unreachable users are always left out.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "segment", rename_all = "snake_case", deny_unknown_fields)]
pub enum AudienceIn {
    All,
    /// Users with at least one credited order.
    Buyers,
    NonBuyers,
    /// `language_code` starting with this ("en" takes "en-GB").
    Language {
        language: String,
    },
    /// Seen within the last `days` days.
    ActiveWithin {
        days: u32,
    },
    /// Not seen for `days` days or more.
    InactiveFor {
        days: u32,
    },
    /// Exactly these users (an uploaded list: `POST /audiences/ids`).
    UserIds {
        user_ids: Vec<i64>,
    },
}

#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleIn {
    #[default]
    Now,
    /// "YYYY-MM-DD HH:MM" in `timezone` (BROADCAST_TIMEZONE when empty), or RFC 3339.
    At {
        at: String,
        #[serde(default)]
        timezone: String,
    },
    /// A five-field cron expression, "daily HH:MM" or "weekly <mon..sun> HH:MM".
    Recurring {
        cron: String,
        #[serde(default)]
        timezone: String,
    },
}

/// At most this many ids in one audience: about what the largest accepted
/// upload (`audience_list::MAX_BYTES` of ten-digit ids) holds.
pub const MAX_AUDIENCE_IDS: usize = 500_000;

impl ContentIn {
    pub fn to_proto(&self) -> Result<pb::Content, String> {
        use pb::content::Body;
        let body = match (&self.text, &self.media, &self.copy) {
            (Some(html), None, None) => Body::Text(pb::TextBody {
                html: html.clone(),
                disable_link_preview: self.disable_link_preview,
            }),
            (None, Some(m), None) => Body::Media(pb::MediaBody {
                kind: match m.kind {
                    MediaKind::Photo => pb::MediaKind::Photo,
                    MediaKind::Video => pb::MediaKind::Video,
                    MediaKind::Document => pb::MediaKind::Document,
                    MediaKind::Animation => pb::MediaKind::Animation,
                } as i32,
                file_id: m.file_id.clone(),
                caption_html: m.caption.clone(),
            }),
            (None, None, Some(c)) => Body::Copy(pb::CopyBody {
                from_chat_id: c.from_chat_id,
                message_id: c.message_id,
            }),
            _ => return Err("content: give exactly one of text, media and copy".into()),
        };
        Ok(pb::Content {
            body: Some(body),
            buttons: self
                .buttons
                .iter()
                .map(|b| pb::UrlButton {
                    text: b.text.clone(),
                    url: b.url.clone(),
                })
                .collect(),
            unsubscribe_button: self.unsubscribe_button,
            disable_notification: self.disable_notification,
        })
    }

    fn from_proto(c: &pb::Content) -> ContentIn {
        use pb::content::Body;
        let mut out = ContentIn {
            text: None,
            disable_link_preview: false,
            media: None,
            copy: None,
            buttons: c
                .buttons
                .iter()
                .map(|b| ButtonIn {
                    text: b.text.clone(),
                    url: b.url.clone(),
                })
                .collect(),
            unsubscribe_button: c.unsubscribe_button,
            disable_notification: c.disable_notification,
        };
        match &c.body {
            Some(Body::Text(t)) => {
                out.text = Some(t.html.clone());
                out.disable_link_preview = t.disable_link_preview;
            }
            Some(Body::Media(m)) => {
                out.media = Some(MediaIn {
                    kind: match pb::MediaKind::try_from(m.kind) {
                        Ok(pb::MediaKind::Video) => MediaKind::Video,
                        Ok(pb::MediaKind::Document) => MediaKind::Document,
                        Ok(pb::MediaKind::Animation) => MediaKind::Animation,
                        _ => MediaKind::Photo,
                    },
                    file_id: m.file_id.clone(),
                    caption: m.caption_html.clone(),
                })
            }
            Some(Body::Copy(c)) => {
                out.copy = Some(CopyIn {
                    from_chat_id: c.from_chat_id,
                    message_id: c.message_id,
                })
            }
            None => {}
        }
        out
    }
}

impl AudienceIn {
    pub fn to_proto(&self) -> Result<pb::Audience, String> {
        use pb::Segment as S;
        let mut a = pb::Audience::default();
        let segment = match self {
            AudienceIn::All => S::All,
            AudienceIn::Buyers => S::Buyers,
            AudienceIn::NonBuyers => S::NonBuyers,
            AudienceIn::Language { language } => {
                a.language = language.clone();
                S::Language
            }
            AudienceIn::ActiveWithin { days } => {
                a.days = *days;
                S::ActiveWithin
            }
            AudienceIn::InactiveFor { days } => {
                a.days = *days;
                S::InactiveFor
            }
            AudienceIn::UserIds { user_ids } => {
                if user_ids.len() > MAX_AUDIENCE_IDS {
                    return Err(format!(
                        "audience: at most {MAX_AUDIENCE_IDS} user ids, not {}",
                        user_ids.len()
                    ));
                }
                if let Some(bad) = user_ids.iter().find(|id| **id <= 0) {
                    return Err(format!("audience: {bad} is not a user id"));
                }
                a.user_ids = user_ids.clone();
                S::UserIds
            }
        };
        a.segment = segment as i32;
        Ok(a)
    }

    fn from_proto(a: &pb::Audience) -> AudienceIn {
        use pb::Segment as S;
        match S::try_from(a.segment).unwrap_or(S::All) {
            S::Buyers => AudienceIn::Buyers,
            S::NonBuyers => AudienceIn::NonBuyers,
            S::Language => AudienceIn::Language {
                language: a.language.clone(),
            },
            S::ActiveWithin => AudienceIn::ActiveWithin { days: a.days },
            S::InactiveFor => AudienceIn::InactiveFor { days: a.days },
            // The ids can be a million; a campaign shows how many, not which.
            S::UserIds => AudienceIn::UserIds {
                user_ids: Vec::new(),
            },
            S::All | S::Unspecified => AudienceIn::All,
        }
    }
}

impl ScheduleIn {
    pub fn to_proto(&self) -> pb::Schedule {
        use pb::ScheduleKind as K;
        match self {
            ScheduleIn::Now => pb::Schedule {
                kind: K::Now as i32,
                ..Default::default()
            },
            ScheduleIn::At { at, timezone } => pb::Schedule {
                kind: K::At as i32,
                at: at.clone(),
                timezone: timezone.clone(),
                ..Default::default()
            },
            ScheduleIn::Recurring { cron, timezone } => pb::Schedule {
                kind: K::Recurring as i32,
                cron: cron.clone(),
                timezone: timezone.clone(),
                ..Default::default()
            },
        }
    }

    fn from_proto(s: &pb::Schedule) -> ScheduleIn {
        use pb::ScheduleKind as K;
        match K::try_from(s.kind).unwrap_or(K::Now) {
            K::At => ScheduleIn::At {
                at: s.at.clone(),
                timezone: s.timezone.clone(),
            },
            K::Recurring => ScheduleIn::Recurring {
                cron: s.cron.clone(),
                timezone: s.timezone.clone(),
            },
            K::Now | K::Unspecified => ScheduleIn::Now,
        }
    }
}

/// The counts the bot's progress message shows, under the same names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgressOut {
    pub recipients: i64,
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub blocked: i64,
    pub unknown: i64,
    /// Messages per second over the last few seconds.
    pub rate: f64,
    pub eta_seconds: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignOut {
    pub id: String,
    pub title: String,
    /// draft, scheduled, recurring, running, paused, done, cancelled
    pub status: String,
    pub content: ContentIn,
    pub audience: AudienceIn,
    pub schedule: ScheduleIn,
    pub paid: bool,
    pub progress: ProgressOut,
    /// RFC 3339 times; null when not (yet) applicable.
    pub created_at: Option<String>,
    pub run_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub next_run_at: Option<String>,
    /// An occurrence of a recurring series names its series.
    pub series_id: Option<String>,
}

fn unix(secs: i64) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    (secs > 0)
        .then(|| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .flatten()
        .and_then(|t| t.format(&Rfc3339).ok())
}

impl From<pb::Campaign> for CampaignOut {
    fn from(c: pb::Campaign) -> CampaignOut {
        let p = c.progress.unwrap_or_default();
        CampaignOut {
            id: c.id,
            title: c.title,
            status: c.status,
            content: ContentIn::from_proto(&c.content.unwrap_or_default()),
            audience: AudienceIn::from_proto(&c.audience.unwrap_or_default()),
            schedule: ScheduleIn::from_proto(&c.schedule.unwrap_or_default()),
            paid: c.paid,
            progress: ProgressOut {
                recipients: p.recipients,
                pending: p.pending,
                sending: p.sending,
                sent: p.sent,
                failed: p.failed,
                blocked: p.blocked,
                unknown: p.unknown,
                rate: p.rate,
                eta_seconds: p.eta_seconds,
            },
            created_at: unix(c.created_at),
            run_at: unix(c.run_at),
            started_at: unix(c.started_at),
            finished_at: unix(c.finished_at),
            next_run_at: unix(c.next_run_at),
            series_id: (!c.series_id.is_empty()).then_some(c.series_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new(v: serde_json::Value) -> Result<NewCampaign, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_text_campaign_to_buyers_reads_as_the_service_expects() {
        let c = new(json!({
            "title": "Sale",
            "content": {"text": "<b>Hi</b> {first_name}", "buttons": [{"text": "Shop", "url": "https://a.io"}]},
            "audience": {"segment": "buyers"},
            "paid": true
        }))
        .unwrap();
        let content = c.content.to_proto().unwrap();
        assert_eq!(
            content.body,
            Some(pb::content::Body::Text(pb::TextBody {
                html: "<b>Hi</b> {first_name}".into(),
                disable_link_preview: false
            }))
        );
        assert_eq!(content.buttons[0].url, "https://a.io");
        assert_eq!(
            c.audience.to_proto().unwrap().segment,
            pb::Segment::Buyers as i32
        );
        assert_eq!(c.schedule.to_proto().kind, pb::ScheduleKind::Now as i32);
        // And back: what the API shows is what it was given.
        let back = ContentIn::from_proto(&content);
        assert_eq!(back.text.as_deref(), Some("<b>Hi</b> {first_name}"));
        assert_eq!(back.buttons.len(), 1);
    }

    #[test]
    fn every_audience_and_schedule_maps_to_its_segment() {
        let cases = [
            (json!({"segment": "all"}), pb::Segment::All),
            (json!({"segment": "non_buyers"}), pb::Segment::NonBuyers),
            (
                json!({"segment": "language", "language": "ru"}),
                pb::Segment::Language,
            ),
            (
                json!({"segment": "active_within", "days": 7}),
                pb::Segment::ActiveWithin,
            ),
            (
                json!({"segment": "inactive_for", "days": 30}),
                pb::Segment::InactiveFor,
            ),
            (
                json!({"segment": "user_ids", "user_ids": [5, 6]}),
                pb::Segment::UserIds,
            ),
        ];
        for (v, segment) in cases {
            let a: AudienceIn = serde_json::from_value(v.clone()).unwrap();
            let p = a.to_proto().unwrap();
            assert_eq!(p.segment, segment as i32, "{v}");
        }
        let s: ScheduleIn =
            serde_json::from_value(json!({"kind": "recurring", "cron": "daily 09:00"})).unwrap();
        let p = s.to_proto();
        assert_eq!(
            (p.kind, p.cron.as_str()),
            (pb::ScheduleKind::Recurring as i32, "daily 09:00")
        );
    }

    #[test]
    fn malformed_campaigns_are_refused_before_any_call() {
        let base = json!({"content": {"text": "x"}, "audience": {"segment": "all"}});
        assert!(new(base.clone()).is_ok());
        let mut extra = base.clone();
        extra["colour"] = json!("red");
        assert!(new(extra).unwrap_err().contains("unknown field"));
        let unknown_segment = json!({"content": {"text": "x"}, "audience": {"segment": "vips"}});
        assert!(new(unknown_segment).unwrap_err().contains("vips"));
        let days_missing =
            json!({"content": {"text": "x"}, "audience": {"segment": "active_within"}});
        assert!(new(days_missing).unwrap_err().contains("days"));
        // Two bodies, or none.
        let two: ContentIn = serde_json::from_value(
            json!({"text": "x", "copy": {"from_chat_id": 1, "message_id": 2}}),
        )
        .unwrap();
        assert!(two.to_proto().unwrap_err().contains("exactly one"));
        let none: ContentIn = serde_json::from_value(json!({})).unwrap();
        assert!(none.to_proto().is_err());
        let negative = AudienceIn::UserIds {
            user_ids: vec![1, -4],
        };
        assert!(negative.to_proto().unwrap_err().contains("-4"));
    }
}

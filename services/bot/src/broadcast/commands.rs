//! Admin commands around broadcasts (`/stats`, `/campaigns`) and the buttons
//! of the live progress message the broadcast service keeps in the admin's chat.

use super::entities;
use super::texts as bt;
use super::{Trouble, trouble};
use crate::dispatch::Dispatcher;
use crate::texts::{Lang, html_escape};
use proto::broadcast as pb;
use runtime::ServiceError;
use telegram::{CallbackQuery, SendOptions};

/// How many campaigns `/campaigns` lists.
const LIST_LIMIT: u32 = 10;
/// Telegram cuts a callback answer at 200 characters.
const ANSWER_MAX_CHARS: usize = 200;

/// Unix seconds as "2026-12-31 18:00 UTC" ("—" for 0, not applicable).
pub fn utc(t: i64) -> String {
    if t <= 0 {
        return "—".into();
    }
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute()
        ),
        Err(_) => "—".into(),
    }
}

/// A campaign's name in the list: its title, else its message's first words.
fn title(lang: Lang, c: &pb::Campaign) -> String {
    if !c.title.trim().is_empty() {
        return c.title.trim().to_string();
    }
    let body = c.content.as_ref().and_then(|c| c.body.as_ref());
    let words = match body {
        Some(pb::content::Body::Text(t)) => entities::plain_words(&t.html, 40),
        Some(pb::content::Body::Media(m)) => entities::plain_words(&m.caption_html, 40),
        _ => String::new(),
    };
    if words.is_empty() {
        let copy = matches!(body, Some(pb::content::Body::Copy(_)));
        return bt::untitled(lang, copy).to_string();
    }
    words
}

pub fn campaign_line(lang: Lang, c: &pb::Campaign) -> String {
    let p = c.progress.unwrap_or_default();
    let counts = if c.status == "recurring" {
        let cron = c.schedule.as_ref().map(|s| s.cron.as_str()).unwrap_or("");
        format!("«{}»", html_escape(cron))
    } else {
        match lang {
            Lang::En => format!("{}/{} sent", p.sent, p.recipients),
            Lang::Ru => format!("{}/{} отправлено", p.sent, p.recipients),
        }
    };
    format!(
        "• {} — <b>{}</b>\n   {counts} · {}",
        bt::status_word(lang, &c.status),
        html_escape(&title(lang, c)),
        bt::campaign_when(lang, c)
    )
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

impl Dispatcher {
    pub async fn show_stats(&self, chat: i64, lang: Lang) -> Result<(), ServiceError> {
        match self.broadcast.clone().get_stats(pb::StatsRequest {}).await {
            Ok(r) => {
                let text = bt::stats(lang, &r.into_inner());
                self.send(chat, &text, &SendOptions::html()).await
            }
            Err(st) => self.broadcast_trouble(chat, lang, st).await,
        }
    }

    pub async fn show_campaigns(&self, chat: i64, lang: Lang) -> Result<(), ServiceError> {
        let req = pb::ListCampaignsRequest {
            limit: LIST_LIMIT,
            before_id: String::new(),
        };
        match self.broadcast.clone().list_campaigns(req).await {
            Ok(r) => {
                let campaigns = r.into_inner().campaigns;
                let mut text = bt::campaigns_head(lang, campaigns.is_empty()).to_string();
                for c in &campaigns {
                    text.push_str("\n\n");
                    text.push_str(&campaign_line(lang, c));
                }
                self.send(chat, &text, &SendOptions::html()).await
            }
            Err(st) => self.broadcast_trouble(chat, lang, st).await,
        }
    }

    /// `bc:<pause|resume|cancel>:<campaign id>` under the progress message.
    /// Only admins may press; the answer says what happened.
    pub async fn on_progress_button(
        &self,
        q: &CallbackQuery,
        rest: &str,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        if !self.is_admin(q.from.id) {
            tracing::info!(user = q.from.id, "progress button pressed by a non-admin");
            self.answer(&q.id, Some(bt::admins_only(lang))).await;
            return Ok(());
        }
        let Some((action, id)) = rest.split_once(':') else {
            self.answer(&q.id, None).await;
            return Ok(());
        };
        let req = pb::CampaignRef {
            id: id.to_string(),
            actor: q.from.id,
        };
        let mut client = self.broadcast.clone();
        let result = match action {
            "pause" => client.pause_campaign(req).await,
            "resume" => client.resume_campaign(req).await,
            "cancel" => client.cancel_campaign(req).await,
            _ => {
                tracing::info!(action, "unknown progress button");
                self.answer(&q.id, None).await;
                return Ok(());
            }
        };
        let answer = match result {
            Ok(r) => {
                tracing::info!(
                    campaign_id = id,
                    action,
                    admin = q.from.id,
                    "campaign control"
                );
                let status = r.into_inner().status;
                let details = serde_json::json!({ "status": status, "from": "progress button" });
                super::audit::record(
                    &self.db,
                    q.from.id,
                    &format!("campaign.{action}"),
                    id,
                    details,
                )
                .await;
                bt::progress_done(lang, action).to_string()
            }
            Err(st) => match trouble(&st) {
                Trouble::Refused(msg) => cut(&msg, ANSWER_MAX_CHARS),
                Trouble::TryLater => bt::try_later_short(lang).to_string(),
            },
        };
        self.answer(&q.id, Some(&answer)).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(utc(0), "—");
        assert_eq!(utc(1_798_740_000), "2026-12-31 18:00 UTC");
    }

    #[test]
    fn campaign_lines_show_status_title_counts_and_time() {
        let c = pb::Campaign {
            status: "running".into(),
            title: String::new(),
            content: Some(pb::Content {
                body: Some(pb::content::Body::Text(pb::TextBody {
                    html: "<b>Winter</b> sale: everything -20% &amp; more".into(),
                    disable_link_preview: false,
                })),
                ..Default::default()
            }),
            progress: Some(pb::Progress {
                recipients: 40,
                sent: 12,
                ..Default::default()
            }),
            started_at: 1_798_740_000,
            ..Default::default()
        };
        let line = campaign_line(Lang::En, &c);
        assert!(line.contains("🚀 running"), "{line}");
        assert!(
            line.contains("<b>Winter sale: everything -20% &amp; more</b>"),
            "{line}"
        );
        assert!(line.contains("12/40 sent"), "{line}");
        assert!(line.contains("started 2026-12-31 18:00 UTC"), "{line}");
        let series = pb::Campaign {
            status: "recurring".into(),
            title: "<Daily> digest".into(),
            schedule: Some(pb::Schedule {
                cron: "daily 09:30".into(),
                ..Default::default()
            }),
            next_run_at: 1_798_740_000,
            ..Default::default()
        };
        let line = campaign_line(Lang::Ru, &series);
        assert!(line.contains("&lt;Daily&gt; digest"), "{line}");
        assert!(line.contains("«daily 09:30»"), "{line}");
        assert!(line.contains("следующая 2026-12-31 18:00 UTC"), "{line}");
        let copy = pb::Campaign {
            status: "done".into(),
            content: Some(pb::Content {
                body: Some(pb::content::Body::Copy(pb::CopyBody::default())),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(campaign_line(Lang::En, &copy).contains("(forwarded post)"));
    }

    #[test]
    fn long_answers_are_cut_to_telegrams_limit() {
        let long = "x".repeat(500);
        assert_eq!(cut(&long, ANSWER_MAX_CHARS).chars().count(), 200);
        assert_eq!(cut("short", ANSWER_MAX_CHARS), "short");
    }
}

//! `/broadcast`: the admin composes a campaign step by step. The state is a
//! Redis session (on the master: the next message must see the last step);
//! the broadcast service checks content, counts the audience, parses times
//! and owns the draft.

use super::parse;
use super::state::{self, Compose, Segment, Step, When};
use super::texts::{self as bt, cb};
use super::{Trouble, trouble};
use crate::dispatch::Dispatcher;
use crate::texts::Lang;
use proto::audience_list::{self, ListError};
use proto::broadcast as pb;
use runtime::ServiceError;
use std::time::Duration;
use telegram::{CallbackQuery, DownloadError, Message, SendOptions};

/// The dialog's session scope.
pub const SCOPE: &str = "broadcast";
/// An uploaded id list, kept apart from the dialog (it can be large and is
/// read only to count and to create the draft).
pub const LIST_SCOPE: &str = "broadcast:list";
/// A half-composed broadcast is forgotten after this long.
const TTL: Duration = Duration::from_secs(3600);
const MAX_LIST_BYTES: u64 = audience_list::MAX_BYTES;
const MAX_LIST_MB: u64 = MAX_LIST_BYTES / (1024 * 1024);
const MAX_DAYS: u32 = 3650;
/// SendPreview attempts, and the pause between them (about Telegram's
/// per-chat window of one message a second).
const PREVIEW_ATTEMPTS: u32 = 3;
const PREVIEW_RETRY_PAUSE: Duration = Duration::from_millis(1100);

fn valid_language(code: &str) -> bool {
    (2..=8).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_alphabetic())
        && code.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
}

/// A .txt or .csv by name, or any text type.
fn is_list_file(d: &telegram::Attachment) -> bool {
    let name = d.file_name.as_deref().unwrap_or("").to_ascii_lowercase();
    let mime = d.mime_type.as_deref().unwrap_or("").to_ascii_lowercase();
    name.ends_with(".txt")
        || name.ends_with(".csv")
        || mime.starts_with("text/")
        || mime == "application/csv"
}

impl Dispatcher {
    async fn save_compose(&self, admin: i64, c: &Compose) -> Result<(), ServiceError> {
        Ok(self.cache.session_set(SCOPE, admin, c, TTL).await?)
    }

    /// `/broadcast` (any earlier dialog was left by the command).
    pub async fn start_broadcast(
        &self,
        chat: i64,
        admin: i64,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        self.save_compose(admin, &Compose::new()).await?;
        self.send(chat, bt::ask_content(lang), &SendOptions::html())
            .await
    }

    /// Leaves the admin's broadcast dialog, cancelling its draft; returns
    /// whether there was one.
    pub async fn leave_broadcast(&self, admin: i64) -> Result<bool, ServiceError> {
        let Some(c) = self.cache.session_get::<Compose>(SCOPE, admin).await? else {
            return Ok(false);
        };
        if let Some(id) = &c.campaign_id {
            self.discard_draft(id, admin).await;
        }
        self.cache.session_clear(SCOPE, admin).await?;
        self.cache.session_clear(LIST_SCOPE, admin).await?;
        Ok(true)
    }

    /// Cancels a draft. A draft never sends, so one left behind when the
    /// service is down costs nothing but a line in `/campaigns`.
    async fn discard_draft(&self, id: &str, admin: i64) {
        let req = pb::CampaignRef {
            id: id.to_string(),
            actor: admin,
        };
        if let Err(st) = self.broadcast.clone().cancel_campaign(req).await {
            tracing::info!(campaign_id = id, code = ?st.code(), message = st.message(), "draft not cancelled");
        }
    }

    /// The broadcast service could not help: say why, keep the step.
    pub(crate) async fn broadcast_trouble(
        &self,
        chat: i64,
        lang: Lang,
        st: tonic::Status,
    ) -> Result<(), ServiceError> {
        let text = match trouble(&st) {
            Trouble::Refused(msg) => bt::refused(lang, &msg),
            Trouble::TryLater => bt::try_later(lang).to_string(),
        };
        self.send(chat, &text, &SendOptions::html()).await
    }

    /// Asks (again) what the current step waits for.
    async fn ask_step(&self, chat: i64, lang: Lang, c: &Compose) -> Result<(), ServiceError> {
        let html = SendOptions::html();
        let (text, opts): (String, SendOptions) = match c.step {
            Step::Content => (bt::ask_content(lang).into(), html),
            Step::Buttons => {
                let (t, kb) = bt::ask_buttons(lang);
                (t.into(), html.with_keyboard(kb))
            }
            Step::UnsubButton => {
                let (t, kb) = bt::ask_unsub_button(lang);
                (t.into(), html.with_keyboard(kb))
            }
            Step::Audience => (
                bt::ask_audience(lang),
                html.with_keyboard(bt::audience_keyboard(lang)),
            ),
            Step::Language => (bt::ask_language(lang).into(), html),
            Step::Days { inactive } => (bt::ask_days(lang, inactive).into(), html),
            Step::List => (bt::ask_list(lang, MAX_LIST_MB), html),
            Step::Schedule => (
                bt::ask_schedule(
                    lang,
                    c.recipients,
                    c.ignored_ids,
                    matches!(c.audience, Some(Segment::List { .. })),
                ),
                html.with_keyboard(bt::schedule_keyboard(lang)),
            ),
            Step::At => (bt::ask_at(lang).into(), html),
            Step::Daily => (bt::ask_daily(lang).into(), html),
            Step::Weekly => (bt::ask_weekly(lang).into(), html),
            Step::Cron => (bt::ask_cron(lang).into(), html),
            Step::Confirm => {
                let (t, kb) = bt::summary(lang, &self.summary_of(lang, c, 0, 0, None));
                (t, html.with_keyboard(kb))
            }
        };
        self.send(chat, &text, &opts).await
    }

    fn summary_of<'a>(
        &self,
        lang: Lang,
        c: &'a Compose,
        run_at: i64,
        next_run_at: i64,
        preview_problem: Option<String>,
    ) -> bt::Summary<'a> {
        bt::Summary {
            campaign_id: c.campaign_id.as_deref().unwrap_or_default(),
            recipients: c.recipients,
            audience: c
                .audience
                .as_ref()
                .map(|s| bt::describe_segment(lang, s))
                .unwrap_or_default(),
            when: c
                .when
                .as_ref()
                .map(|w| bt::describe_when(lang, w, run_at, next_run_at))
                .unwrap_or_default(),
            paid: c.paid,
            buttons: c.buttons.len(),
            unsubscribe_button: c.unsubscribe_button,
            preview_problem,
        }
    }

    /// ValidateContent: `Ok(Some(reason))` when the service refuses it.
    async fn refusal_of(&self, c: &Compose) -> Result<Option<String>, tonic::Status> {
        match self.broadcast.clone().validate_content(c.content()).await {
            Ok(r) => {
                let error = r.into_inner().error;
                Ok((!error.is_empty()).then_some(error))
            }
            Err(st) => match trouble(&st) {
                Trouble::Refused(msg) => Ok(Some(msg)),
                Trouble::TryLater => Err(st),
            },
        }
    }

    /// A message from an admin while their broadcast dialog is open.
    pub async fn on_broadcast_message(
        &self,
        m: &Message,
        admin: i64,
        lang: Lang,
        mut c: Compose,
    ) -> Result<(), ServiceError> {
        let chat = m.chat.id;
        let text = m.text.as_deref().map(str::trim).unwrap_or("");
        match c.step {
            Step::Content => {
                let Some(body) = state::body_of(m) else {
                    return self
                        .send(chat, &bt::not_content(lang), &SendOptions::html())
                        .await;
                };
                c.title = state::title_of(&body);
                c.body = Some(body);
                match self.refusal_of(&c).await {
                    Ok(None) => {}
                    Ok(Some(reason)) => {
                        let text = bt::content_refused(lang, &reason);
                        return self.send(chat, &text, &SendOptions::html()).await;
                    }
                    Err(st) => return self.broadcast_trouble(chat, lang, st).await,
                }
                c.step = Step::Buttons;
                self.save_compose(admin, &c).await?;
                self.ask_step(chat, lang, &c).await
            }
            Step::Buttons if text.is_empty() => self.ask_step(chat, lang, &c).await,
            Step::Buttons => {
                if bt::is_skip(text) {
                    c.buttons.clear();
                } else {
                    match parse::parse_buttons(text) {
                        Ok(buttons) => c.buttons = buttons,
                        Err(e) => {
                            let text = bt::bad_buttons(lang, &e);
                            return self.send(chat, &text, &SendOptions::html()).await;
                        }
                    }
                    match self.refusal_of(&c).await {
                        Ok(None) => {}
                        Ok(Some(reason)) => {
                            let text = bt::refused(lang, &reason);
                            return self.send(chat, &text, &SendOptions::html()).await;
                        }
                        Err(st) => return self.broadcast_trouble(chat, lang, st).await,
                    }
                }
                c.step = Step::UnsubButton;
                self.save_compose(admin, &c).await?;
                self.ask_step(chat, lang, &c).await
            }
            Step::Language => {
                let code = text.to_ascii_lowercase();
                if !valid_language(&code) {
                    return self
                        .send(chat, bt::bad_language(lang), &SendOptions::html())
                        .await;
                }
                self.count_audience(chat, admin, lang, c, Segment::Language { code }, &[])
                    .await
            }
            Step::Days { inactive } => match text.parse::<u32>() {
                Ok(days) if (1..=MAX_DAYS).contains(&days) => {
                    let segment = if inactive {
                        Segment::InactiveFor { days }
                    } else {
                        Segment::ActiveWithin { days }
                    };
                    self.count_audience(chat, admin, lang, c, segment, &[])
                        .await
                }
                _ => {
                    self.send(chat, &bt::bad_days(lang, MAX_DAYS), &SendOptions::html())
                        .await
                }
            },
            Step::List => self.on_list_upload(m, admin, lang, c).await,
            Step::At | Step::Daily | Step::Weekly | Step::Cron if text.is_empty() => {
                self.ask_step(chat, lang, &c).await
            }
            Step::At => {
                let when = When::At { at: text.into() };
                self.create_draft(chat, admin, lang, c, when).await
            }
            Step::Daily => {
                let t = text.strip_prefix("daily").unwrap_or(text).trim();
                let when = When::Recurring {
                    cron: format!("daily {t}"),
                };
                self.create_draft(chat, admin, lang, c, when).await
            }
            Step::Weekly => {
                let t = text.strip_prefix("weekly").unwrap_or(text).trim();
                let when = When::Recurring {
                    cron: format!("weekly {}", t.to_ascii_lowercase()),
                };
                self.create_draft(chat, admin, lang, c, when).await
            }
            Step::Cron => {
                let when = When::Recurring { cron: text.into() };
                self.create_draft(chat, admin, lang, c, when).await
            }
            // Steps answered with buttons: show them again.
            Step::UnsubButton | Step::Audience | Step::Schedule | Step::Confirm => {
                self.ask_step(chat, lang, &c).await
            }
        }
    }

    async fn on_list_upload(
        &self,
        m: &Message,
        admin: i64,
        lang: Lang,
        c: Compose,
    ) -> Result<(), ServiceError> {
        let chat = m.chat.id;
        let html = SendOptions::html();
        let Some(doc) = &m.document else {
            return self
                .send(chat, &bt::list_not_a_file(lang, MAX_LIST_MB), &html)
                .await;
        };
        if !is_list_file(doc) {
            return self.send(chat, bt::list_wrong_type(lang), &html).await;
        }
        if doc.file_size.is_some_and(|n| n > MAX_LIST_BYTES) {
            return self
                .send(chat, &bt::list_too_large(lang, MAX_LIST_MB), &html)
                .await;
        }
        let bytes = match self.tg.fetch_file(&doc.file_id, MAX_LIST_BYTES).await {
            Ok(b) => b,
            Err(DownloadError::TooLarge { .. }) => {
                return self
                    .send(chat, &bt::list_too_large(lang, MAX_LIST_MB), &html)
                    .await;
            }
            Err(DownloadError::Telegram(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "could not download an uploaded list");
                return self.send(chat, bt::try_later(lang), &html).await;
            }
            Err(e) => {
                tracing::info!(error = %e, "uploaded list refused by Telegram");
                return self
                    .send(chat, &bt::refused(lang, &e.to_string()), &html)
                    .await;
            }
        };
        let list = match audience_list::parse_id_list(&bytes) {
            Ok(l) => l,
            Err(e @ (ListError::NotText | ListError::NoIds | ListError::BadLines { .. })) => {
                return self.send(chat, &bt::bad_list(lang, &e), &html).await;
            }
        };
        self.cache
            .session_set(LIST_SCOPE, admin, &list.ids, TTL)
            .await?;
        let segment = Segment::List {
            ids: list.ids.len(),
        };
        self.count_audience(chat, admin, lang, c, segment, &list.ids)
            .await
    }

    /// CountAudience, then the schedule question (or the audience again when nobody is in it).
    async fn count_audience(
        &self,
        chat: i64,
        admin: i64,
        lang: Lang,
        mut c: Compose,
        segment: Segment,
        list: &[i64],
    ) -> Result<(), ServiceError> {
        let audience = state::audience_to_proto(&segment, list);
        let reply = match self.broadcast.clone().count_audience(audience).await {
            Ok(r) => r.into_inner(),
            Err(st) => return self.broadcast_trouble(chat, lang, st).await,
        };
        if reply.recipients == 0 {
            c.step = Step::Audience;
            self.save_compose(admin, &c).await?;
            let text = bt::no_recipients(lang, reply.ignored_ids);
            let opts = SendOptions::html().with_keyboard(bt::audience_keyboard(lang));
            return self.send(chat, &text, &opts).await;
        }
        c.audience = Some(segment);
        c.recipients = reply.recipients;
        c.ignored_ids = reply.ignored_ids;
        c.step = Step::Schedule;
        self.save_compose(admin, &c).await?;
        self.ask_step(chat, lang, &c).await
    }

    /// CreateCampaign as a draft, SendPreview to the admin, then the summary.
    async fn create_draft(
        &self,
        chat: i64,
        admin: i64,
        lang: Lang,
        mut c: Compose,
        when: When,
    ) -> Result<(), ServiceError> {
        let Some(segment) = c.audience.clone() else {
            c.step = Step::Audience;
            self.save_compose(admin, &c).await?;
            return self.ask_step(chat, lang, &c).await;
        };
        let list = match segment {
            Segment::List { .. } => {
                match self
                    .cache
                    .session_get::<Vec<i64>>(LIST_SCOPE, admin)
                    .await?
                {
                    Some(ids) => ids,
                    None => {
                        // The list expired: upload it again.
                        c.step = Step::List;
                        self.save_compose(admin, &c).await?;
                        return self.ask_step(chat, lang, &c).await;
                    }
                }
            }
            _ => Vec::new(),
        };
        let req = pb::CreateCampaignRequest {
            content: Some(c.content()),
            audience: Some(state::audience_to_proto(&segment, &list)),
            schedule: Some(state::schedule_to_proto(&when)),
            paid: c.paid,
            created_by: admin,
            progress_chat_id: chat,
            title: c.title.clone(),
        };
        let campaign = match self.broadcast.clone().create_campaign(req).await {
            Ok(r) => r.into_inner(),
            Err(st) => {
                return match trouble(&st) {
                    Trouble::Refused(msg) => {
                        let text = bt::schedule_refused(lang, &msg);
                        let mut opts = SendOptions::html();
                        if c.step == Step::Schedule {
                            opts = opts.with_keyboard(bt::schedule_keyboard(lang));
                        }
                        self.send(chat, &text, &opts).await
                    }
                    Trouble::TryLater => {
                        self.send(chat, bt::try_later(lang), &SendOptions::html())
                            .await
                    }
                };
            }
        };
        // The draft is remembered before anything else can fail, so leaving
        // the dialog cancels it.
        let old = c.campaign_id.replace(campaign.id.clone());
        let replacing = old.is_some();
        c.when = Some(when);
        c.step = Step::Confirm;
        self.save_compose(admin, &c).await?;
        if let Some(old) = old {
            self.discard_draft(&old, admin).await;
        }
        let preview_problem = if replacing {
            // Same message, only the delivery mode changed: the preview above still holds.
            None
        } else {
            self.send_preview(&campaign.id, chat, lang).await
        };
        let s = self.summary_of(
            lang,
            &c,
            campaign.run_at,
            campaign.next_run_at,
            preview_problem,
        );
        let (text, kb) = bt::summary(lang, &s);
        self.send(chat, &text, &SendOptions::html().with_keyboard(kb))
            .await
    }

    /// SendPreview, tried again a few times when it is only Telegram's
    /// per-chat limit (the dialog's own messages just went to this chat): a
    /// second preview is harmless, none at all is not. Returns why it failed.
    async fn send_preview(&self, campaign_id: &str, chat: i64, lang: Lang) -> Option<String> {
        let mut attempt = 1;
        loop {
            let req = pb::SendPreviewRequest {
                campaign_id: campaign_id.to_string(),
                chat_id: chat,
            };
            let st = match self.broadcast.clone().send_preview(req).await {
                Ok(_) => return None,
                Err(st) => st,
            };
            match trouble(&st) {
                Trouble::Refused(msg) => return Some(msg),
                Trouble::TryLater if attempt < PREVIEW_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(PREVIEW_RETRY_PAUSE).await;
                }
                Trouble::TryLater => return Some(bt::try_later_short(lang).to_string()),
            }
        }
    }

    /// A press on one of the dialog's buttons (`bcd:...`).
    pub async fn on_broadcast_button(
        &self,
        q: &CallbackQuery,
        data: &str,
        lang: Lang,
    ) -> Result<(), ServiceError> {
        let admin = q.from.id;
        let chat = q.message.as_ref().map(|m| m.chat.id).unwrap_or(admin);
        if !self.is_admin(admin) {
            self.answer(&q.id, Some(bt::admins_only(lang))).await;
            return Ok(());
        }
        let Some(mut c) = self.cache.session_get::<Compose>(SCOPE, admin).await? else {
            self.answer(&q.id, Some(bt::stale_button(lang))).await;
            return Ok(());
        };
        let draft = c.campaign_id.clone().unwrap_or_default();
        let for_draft = |prefix: &str| {
            data.strip_prefix(prefix)
                .is_some_and(|id| !id.is_empty() && id == draft)
        };
        let choosing_audience = matches!(
            c.step,
            Step::Audience | Step::Language | Step::Days { .. } | Step::List
        );
        let choosing_time = matches!(
            c.step,
            Step::Schedule | Step::At | Step::Daily | Step::Weekly | Step::Cron
        );
        if c.step == Step::Buttons && data == cb::SKIP {
            self.answer(&q.id, None).await;
            c.buttons.clear();
            c.step = Step::UnsubButton;
            self.save_compose(admin, &c).await?;
            return self.ask_step(chat, lang, &c).await;
        }
        if c.step == Step::UnsubButton && (data == cb::UNSUB_YES || data == cb::UNSUB_NO) {
            self.answer(&q.id, None).await;
            c.unsubscribe_button = data == cb::UNSUB_YES;
            c.step = Step::Audience;
            self.save_compose(admin, &c).await?;
            return self.ask_step(chat, lang, &c).await;
        }
        if let Some(what) = data.strip_prefix(cb::AUDIENCE_PREFIX)
            && choosing_audience
        {
            let direct = match what {
                "all" => Some(Segment::All),
                "buyers" => Some(Segment::Buyers),
                "nonbuyers" => Some(Segment::NonBuyers),
                _ => None,
            };
            let next = match what {
                "lang" => Some(Step::Language),
                "active" => Some(Step::Days { inactive: false }),
                "inactive" => Some(Step::Days { inactive: true }),
                "list" => Some(Step::List),
                _ => None,
            };
            if let Some(segment) = direct {
                self.answer(&q.id, None).await;
                return self
                    .count_audience(chat, admin, lang, c, segment, &[])
                    .await;
            }
            if let Some(step) = next {
                self.answer(&q.id, None).await;
                c.step = step;
                self.save_compose(admin, &c).await?;
                return self.ask_step(chat, lang, &c).await;
            }
        }
        if let Some(what) = data.strip_prefix(cb::WHEN_PREFIX)
            && choosing_time
        {
            let next = match what {
                "now" => {
                    self.answer(&q.id, None).await;
                    c.step = Step::Schedule;
                    return self.create_draft(chat, admin, lang, c, When::Now).await;
                }
                "at" => Some(Step::At),
                "daily" => Some(Step::Daily),
                "weekly" => Some(Step::Weekly),
                "cron" => Some(Step::Cron),
                _ => None,
            };
            if let Some(step) = next {
                self.answer(&q.id, None).await;
                c.step = step;
                self.save_compose(admin, &c).await?;
                return self.ask_step(chat, lang, &c).await;
            }
        }
        if c.step == Step::Confirm {
            let summary = q.message.as_ref().map(|m| m.message_id);
            if for_draft(cb::CONFIRM_PREFIX) {
                self.answer(&q.id, None).await;
                return self.confirm(chat, summary, admin, lang, &draft).await;
            }
            if for_draft(cb::EDIT_PREFIX) {
                self.answer(&q.id, None).await;
                self.discard_draft(&draft, admin).await;
                self.cache.session_clear(LIST_SCOPE, admin).await?;
                let fresh = Compose::new();
                self.save_compose(admin, &fresh).await?;
                return self.ask_step(chat, lang, &fresh).await;
            }
            if for_draft(cb::CANCEL_PREFIX) {
                self.answer(&q.id, None).await;
                self.leave_broadcast(admin).await?;
                return self
                    .replace_summary(chat, summary, bt::dialog_cancelled(lang))
                    .await;
            }
            if for_draft(cb::PAID_PREFIX) {
                self.answer(&q.id, None).await;
                // Paid or not is fixed at creation: a new draft replaces this one.
                let Some(when) = c.when.clone() else {
                    return Ok(());
                };
                c.paid = !c.paid;
                return self.create_draft(chat, admin, lang, c, when).await;
            }
        }
        tracing::info!(data, step = ?c.step, "outdated broadcast dialog button");
        self.answer(&q.id, Some(bt::stale_button(lang))).await;
        Ok(())
    }

    /// Turns the summary into the outcome (its buttons gone, so nothing can
    /// be pressed twice); a new message when the summary can't be edited.
    /// An edit also leaves the chat's send allowance to the progress message
    /// the service posts right now.
    async fn replace_summary(
        &self,
        chat: i64,
        summary: Option<i64>,
        text: &str,
    ) -> Result<(), ServiceError> {
        if let Some(message_id) = summary {
            let params = serde_json::json!({
                "chat_id": chat,
                "message_id": message_id,
                "text": text,
                "parse_mode": "HTML",
                "reply_markup": {"inline_keyboard": []},
            });
            match self
                .tg
                .call::<serde_json::Value>("editMessageText", &params)
                .await
            {
                Ok(_) | Err(telegram::TgError::NotModified) => return Ok(()),
                Err(e) => tracing::info!(error = %e, "summary not edited; sending the outcome"),
            }
        }
        self.send(chat, text, &SendOptions::html()).await
    }

    /// Confirm: StartCampaign; the dialog is over once the service took it.
    async fn confirm(
        &self,
        chat: i64,
        summary: Option<i64>,
        admin: i64,
        lang: Lang,
        id: &str,
    ) -> Result<(), ServiceError> {
        let req = pb::CampaignRef {
            id: id.to_string(),
            actor: admin,
        };
        match self.broadcast.clone().start_campaign(req).await {
            Ok(r) => {
                let campaign = r.into_inner();
                self.cache.session_clear(SCOPE, admin).await?;
                self.cache.session_clear(LIST_SCOPE, admin).await?;
                tracing::info!(campaign_id = id, admin, status = %campaign.status, "broadcast confirmed");
                let details = serde_json::json!({
                    "status": campaign.status,
                    "recipients": campaign.progress.as_ref().map_or(0, |p| p.recipients),
                    "title": campaign.title,
                    "from": "/broadcast",
                });
                super::audit::record(&self.db, admin, "campaign.start", id, details).await;
                self.replace_summary(chat, summary, &bt::started(lang, &campaign))
                    .await
            }
            Err(st) => self.broadcast_trouble(chat, lang, st).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_are_short_letters() {
        for ok in ["en", "ru", "pt-br", "zh-hans"] {
            assert!(valid_language(ok), "{ok}");
        }
        for bad in ["e", "english!", "12", "-en", "en_gb", "verylongcode"] {
            assert!(!valid_language(bad), "{bad}");
        }
    }

    #[test]
    fn lists_are_recognised_by_name_or_type() {
        let doc = |name: Option<&str>, mime: Option<&str>| telegram::Attachment {
            file_id: "f".into(),
            file_unique_id: "u".into(),
            file_name: name.map(Into::into),
            mime_type: mime.map(Into::into),
            file_size: None,
        };
        assert!(is_list_file(&doc(Some("IDS.CSV"), None)));
        assert!(is_list_file(&doc(
            Some("ids.txt"),
            Some("application/octet-stream")
        )));
        assert!(is_list_file(&doc(None, Some("text/plain"))));
        assert!(!is_list_file(&doc(Some("photo.jpg"), Some("image/jpeg"))));
        assert!(!is_list_file(&doc(Some("ids.xlsx"), None)));
    }

    #[test]
    fn body_kinds_are_what_the_service_expects() {
        use super::state::Body;
        let b = state::body_to_proto(&Body::Copy {
            from_chat_id: 1,
            message_id: 2,
        });
        assert!(matches!(
            b,
            pb::content::Body::Copy(pb::CopyBody {
                from_chat_id: 1,
                message_id: 2
            })
        ));
    }
}

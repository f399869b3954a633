//! What Telegram says about our webhook (`getWebhookInfo`): logged once the
//! webhook is registered and shown in `/health` as the `webhook` component,
//! so an operator sees at once why updates do not arrive (a certificate
//! Telegram rejects, a host it cannot reach, updates piling up).
//!
//! Asked at most once per `HEALTH_CHECK_INTERVAL`; health checks in between
//! reuse the answer, so a load balancer polling /health never adds Bot API
//! traffic.

use runtime::health::{Component, Status};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fields of Telegram's WebhookInfo an operator needs.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookInfo {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub has_custom_certificate: bool,
    #[serde(default)]
    pub pending_update_count: i64,
    pub last_error_date: Option<i64>,
    pub last_error_message: Option<String>,
}

/// An error younger than this makes the webhook "degraded".
const RECENT_ERROR: Duration = Duration::from_secs(600);

impl WebhookInfo {
    pub fn component(&self, expected_url: Option<&str>, now_unix: i64) -> Component {
        let details = json!({
            "url": self.url,
            "has_custom_certificate": self.has_custom_certificate,
            "pending_update_count": self.pending_update_count,
            "last_error_date": self.last_error_date,
            "last_error_message": self.last_error_message,
        });
        let recent_error = self
            .last_error_date
            .is_some_and(|d| now_unix - d < RECENT_ERROR.as_secs() as i64);
        let mut c = Component::up(None).with_details(details).non_critical();
        if expected_url.is_some_and(|u| u != self.url) {
            c.status = Status::Down;
            c.error = Some(format!(
                "Telegram delivers to {:?}, not to this gateway",
                self.url
            ));
        } else if recent_error {
            c.status = Status::Degraded;
            c.error = self.last_error_message.clone();
        }
        c
    }
}

pub async fn fetch(bot: &telegram::Bot) -> Result<WebhookInfo, telegram::TgError> {
    bot.call::<WebhookInfo>("getWebhookInfo", &Value::Object(Default::default()))
        .await
}

/// The last answer, reused for the health-check interval.
#[derive(Clone, Default)]
pub struct Cached {
    last: Arc<Mutex<Option<(Instant, Component)>>>,
}

impl Cached {
    pub async fn component(
        &self,
        bot: &telegram::Bot,
        expected_url: Option<&str>,
        every: Duration,
    ) -> Component {
        if let Some((at, c)) = self.last.lock().expect("webhook info").as_ref()
            && at.elapsed() < every
        {
            return c.clone();
        }
        let c = match tokio::time::timeout(Duration::from_secs(5), fetch(bot)).await {
            Ok(Ok(info)) => info.component(expected_url, unix_now()),
            Ok(Err(e)) => Component::down(format!("getWebhookInfo: {e}")).non_critical(),
            Err(_) => Component::down("getWebhookInfo: no answer within 5 s").non_critical(),
        };
        *self.last.lock().expect("webhook info") = Some((Instant::now(), c.clone()));
        c
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(url: &str, error_at: Option<i64>) -> WebhookInfo {
        WebhookInfo {
            url: url.into(),
            has_custom_certificate: false,
            pending_update_count: 3,
            last_error_date: error_at,
            last_error_message: error_at.map(|_| "SSL error {error:14094418}".into()),
        }
    }

    #[test]
    fn a_recent_delivery_error_degrades_and_says_why() {
        let c = info("https://a/webhook", Some(1_000)).component(Some("https://a/webhook"), 1_100);
        assert_eq!(c.status, Status::Degraded);
        assert!(c.error.unwrap().contains("SSL error"));
        let old =
            info("https://a/webhook", Some(1_000)).component(Some("https://a/webhook"), 10_000);
        assert_eq!(old.status, Status::Up, "an old error is history");
        assert_eq!(old.details["pending_update_count"], 3);
    }

    #[test]
    fn a_webhook_pointing_elsewhere_is_down() {
        let c = info("https://other/webhook", None).component(Some("https://a/webhook"), 0);
        assert_eq!(c.status, Status::Down);
        assert!(!c.critical, "updates may still be queued at Telegram");
    }
}

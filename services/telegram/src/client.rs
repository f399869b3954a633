use crate::error::TgError;
use crate::types::{InlineKeyboardMarkup, Message};
use runtime::config::{ConfigError, Env};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    /// `TELEGRAM_TOKEN`; secret, so `{:?}` never prints it.
    pub token: SecretString,
    /// `TELEGRAM_API_BASE`: api.telegram.org, a local Bot API server, or the sandbox.
    pub api_base: String,
}

impl TelegramConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let token = env.required("TELEGRAM_TOKEN")?;
        if !valid_token(&token) {
            // Never echo the token itself into logs.
            return Err(ConfigError::malformed(
                "TELEGRAM_TOKEN",
                "<redacted>",
                "expected <bot id>:<secret> as issued by @BotFather (letters, digits, _ - :)",
            ));
        }
        let api_base = env.string_or("TELEGRAM_API_BASE", "https://api.telegram.org");
        if !(api_base.starts_with("http://") || api_base.starts_with("https://")) {
            return Err(ConfigError::malformed(
                "TELEGRAM_API_BASE",
                &api_base,
                "expected an http(s) URL",
            ));
        }
        Ok(TelegramConfig {
            token: SecretString::from(token),
            api_base: api_base.trim_end_matches('/').to_string(),
        })
    }
}

/// The token goes into every method's URL path, so it may only hold
/// characters that are safe there. Anything else of that shape is accepted,
/// even the seed's placeholder `your_telegram_bot_token_here`: the fleet
/// then starts, and Telegram's 401 on `setWebhook` (logged, and shown in
/// /health) tells the operator, instead of a crash loop.
fn valid_token(t: &str) -> bool {
    (1..=256).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'))
}

/// Optional parts of a sent or edited message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<InlineKeyboardMarkup>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable_notification: bool,
}

impl SendOptions {
    pub fn html() -> Self {
        SendOptions {
            parse_mode: Some("HTML"),
            ..Default::default()
        }
    }

    pub fn with_keyboard(mut self, kb: InlineKeyboardMarkup) -> Self {
        self.reply_markup = Some(kb);
        self
    }
}

#[derive(Deserialize)]
struct Reply<T> {
    ok: bool,
    result: Option<T>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

/// A Bot API client for one token. Cheap to clone.
#[derive(Clone)]
pub struct Bot {
    pub(crate) http: reqwest::Client,
    /// `{api_base}/bot{token}`: methods are posted to `{method_base}/{method}`.
    pub(crate) method_base: String,
    /// `{api_base}/file/bot{token}`: files from getFile are fetched from `{file_base}/{file_path}`.
    pub(crate) file_base: String,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL embeds the token: keep it out of debug output.
        f.debug_struct("Bot").finish_non_exhaustive()
    }
}

impl Bot {
    pub fn new(cfg: &TelegramConfig) -> Self {
        Bot {
            http: runtime::http::client(Duration::from_secs(30)),
            method_base: format!("{}/bot{}", cfg.api_base, cfg.token.expose_secret()),
            file_base: format!("{}/file/bot{}", cfg.api_base, cfg.token.expose_secret()),
        }
    }

    /// Calls a method with JSON parameters, carrying the current trace context.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
    ) -> Result<T, TgError> {
        let url = format!("{}/{}", self.method_base, method);
        let resp = runtime::http::traced(self.http.post(url).json(params))
            .send()
            .await
            .map_err(|e| TgError::Transient(format!("{method}: {}", e.without_url())))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| TgError::Transient(format!("{method}: {}", e.without_url())))?;
        let reply: Reply<T> = serde_json::from_slice(&body).map_err(|e| {
            if status >= 500 {
                TgError::Transient(format!("{method}: HTTP {status}"))
            } else {
                TgError::BadRequest {
                    code: status,
                    description: format!("unparsable reply to {method}: {e}"),
                }
            }
        })?;
        match (reply.ok, reply.result) {
            (true, Some(r)) => Ok(r),
            _ => {
                let err = TgError::from_reply(
                    reply.error_code.unwrap_or(status),
                    reply.description.as_deref().unwrap_or("no description"),
                    reply.parameters.and_then(|p| p.retry_after),
                );
                metrics::counter!("telegram_api_errors_total", "method" => method.to_string())
                    .increment(1);
                Err(err)
            }
        }
    }

    pub async fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        opts: &SendOptions,
    ) -> Result<Message, TgError> {
        let mut params = serde_json::to_value(opts).expect("options serialize");
        params["chat_id"] = json!(chat_id);
        params["text"] = json!(text);
        self.call("sendMessage", &params).await
    }

    /// Sends, waiting out flood limits (429 `retry_after`) as long as the
    /// total wait stays within `patience`. Per-chat limits (about 1 msg/s with
    /// short bursts) are hit by ordinary dialogs, so replies must absorb them.
    pub async fn send_message_patiently(
        &self,
        chat_id: i64,
        text: &str,
        opts: &SendOptions,
        patience: Duration,
    ) -> Result<Message, TgError> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match self.send_message(chat_id, text, opts).await {
                Err(TgError::RetryAfter(d)) if tokio::time::Instant::now() + d <= deadline => {
                    tokio::time::sleep(d).await;
                }
                other => return other,
            }
        }
    }

    pub async fn answer_callback_query(&self, id: &str, text: Option<&str>) -> Result<(), TgError> {
        let mut params = json!({ "callback_query_id": id });
        if let Some(t) = text {
            params["text"] = json!(t);
        }
        self.call::<bool>("answerCallbackQuery", &params)
            .await
            .map(|_| ())
    }

    pub async fn set_webhook(
        &self,
        url: &str,
        secret_token: &str,
        allowed_updates: &[&str],
    ) -> Result<(), TgError> {
        let params = json!({
            "url": url,
            "secret_token": secret_token,
            "allowed_updates": allowed_updates,
            "max_connections": 40,
        });
        self.call::<bool>("setWebhook", &params).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_must_be_safe_in_a_url_path() {
        assert!(valid_token("123456:ABC-def_ghi"));
        assert!(valid_token("your_telegram_bot_token_here"));
        assert!(!valid_token(""));
        assert!(!valid_token("123:a b"));
        assert!(!valid_token("123:a/../b"));
        assert!(!valid_token("123:a?x"));
    }

    #[test]
    fn missing_token_is_named_and_malformed_token_is_not_echoed() {
        let err = TelegramConfig::from_env(&Env::from_pairs([("X", "1")])).unwrap_err();
        assert!(err.to_string().contains("TELEGRAM_TOKEN"));
        let err =
            TelegramConfig::from_env(&Env::from_pairs([("TELEGRAM_TOKEN", "secret/but wrong")]))
                .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("TELEGRAM_TOKEN") && !msg.contains("secret/but wrong"),
            "{msg}"
        );
    }
}

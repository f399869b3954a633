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
    /// `TELEGRAM_RATE_LIMIT`: sends per second for the whole token (Telegram's
    /// ~30/s for bulk), shared by replies and broadcasts of every process.
    pub rate_limit: u32,
    /// `TELEGRAM_PAID_RATE_LIMIT`: sends per second with allow_paid_broadcast.
    pub paid_rate_limit: u32,
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
        // Telegram's cloud API accepts at most 1000 paid sends a second (and
        // ~30 ordinary ones); a larger budget there only buys 429s, so it is
        // refused as the typo it is. Any other base (the sandbox with its
        // limits off, a load-test double) sets its own limits, and the
        // benchmarks need budgets past Telegram's to measure the pipeline
        // itself. A local Bot API server still forwards to Telegram's limits:
        // the README says to keep 1000 there.
        let max = if is_telegram_cloud(&api_base) {
            TELEGRAM_CLOUD_MAX_RATE
        } else {
            OTHER_API_MAX_RATE
        };
        let rate = |name, default| -> Result<u32, ConfigError> {
            let v: u32 = env.parse_or(name, default)?;
            if !(1..=max).contains(&v) {
                let why = if max == TELEGRAM_CLOUD_MAX_RATE {
                    format!("must be between 1 and {max} sends per second (Telegram's most)")
                } else {
                    format!("must be between 1 and {max} sends per second")
                };
                return Err(ConfigError::malformed(name, &v.to_string(), why));
            }
            Ok(v)
        };
        Ok(TelegramConfig {
            token: SecretString::from(token),
            api_base: api_base.trim_end_matches('/').to_string(),
            rate_limit: rate("TELEGRAM_RATE_LIMIT", 30)?,
            paid_rate_limit: rate("TELEGRAM_PAID_RATE_LIMIT", 1000)?,
        })
    }
}

/// The most sends per second a budget may have against api.telegram.org.
const TELEGRAM_CLOUD_MAX_RATE: u32 = 1000;
/// ... and against any other Bot API base.
const OTHER_API_MAX_RATE: u32 = 100_000;

/// Whether `base` is Telegram's own Bot API host, read with the same URL
/// parser the HTTP client uses (so a `\`, extra slashes, percent-escapes or
/// full-width letters cannot hide the host). A base that does not parse, or
/// has no host, counts as Telegram's: the strict limit is the safe side.
fn is_telegram_cloud(base: &str) -> bool {
    match reqwest::Url::parse(base) {
        Ok(url) => url.host_str().is_none_or(|h| {
            h.trim_end_matches('.')
                .eq_ignore_ascii_case("api.telegram.org")
        }),
        Err(_) => true,
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

/// The token's shared send budget (see `cache::budget`): the numeric bot id
/// names it, so every process using the token shares it, and no secret part
/// of the token ever becomes a Redis key.
#[derive(Clone)]
pub struct SendBudget {
    pub cache: cache::Cache,
    pub bot_id: String,
    pub per_sec: u32,
    pub paid_per_sec: u32,
}

/// How far behind already reserved broadcast slots a reply may queue. The
/// broadcast engine reserves at most a fraction of a second ahead, so a reply
/// always gets a slot well inside this.
const REPLY_MAX_AHEAD: Duration = Duration::from_secs(5);

impl SendBudget {
    pub fn new(cache: cache::Cache, cfg: &TelegramConfig) -> Self {
        SendBudget {
            cache,
            bot_id: cfg.bot_id().to_string(),
            per_sec: cfg.rate_limit,
            paid_per_sec: cfg.paid_rate_limit,
        }
    }

    /// The budget key of normal or paid sends.
    pub fn key(&self, paid: bool) -> String {
        format!("{}:{}", self.bot_id, if paid { "paid" } else { "normal" })
    }

    /// Waits for this send's slot. Redis trouble never holds a reply back:
    /// the send goes out unpaced, and Telegram's 429 (waited out by the
    /// caller) is the fallback.
    /// A pause (a 429 somewhere) longer than a reply may queue is the
    /// caller's to wait out: the reply is not sent into it.
    async fn wait_turn(&self, paid: bool, chat: Option<i64>) -> Result<(), TgError> {
        let rate = if paid {
            self.paid_per_sec
        } else {
            self.per_sec
        };
        // A slot missed by more than the budget's margin (a busy machine)
        // would bunch up with the next sender's; a few fresh tries, then go.
        for _ in 0..3 {
            let asked = tokio::time::Instant::now();
            match self
                .cache
                .reserve_sends(
                    &self.key(paid),
                    rate,
                    1,
                    Duration::ZERO,
                    REPLY_MAX_AHEAD,
                    chat,
                )
                .await
            {
                Ok(slots) if slots.count > 0 => {
                    // Waited for from the answer (never early), judged late
                    // from the question (the round trip counts as lateness).
                    tokio::time::sleep(slots.first_in).await;
                    if asked.elapsed() <= slots.first_in + cache::LATE_LIMIT {
                        return Ok(());
                    }
                }
                Ok(slots) => return Err(TgError::RetryAfter(slots.first_in + REPLY_MAX_AHEAD)),
                Err(e) => {
                    tracing::debug!(error = %e, "send budget unavailable; sending unpaced");
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Methods that put a message into a chat, which Telegram's flood limits count.
fn is_send(method: &str) -> bool {
    method.starts_with("send") || method == "copyMessage" || method == "forwardMessage"
}

impl TelegramConfig {
    /// The numeric bot id, the part of the token before ':' (public: it is
    /// the bot's user id).
    pub fn bot_id(&self) -> &str {
        let token = self.token.expose_secret();
        token.split(':').next().unwrap_or("bot")
    }
}

/// A Bot API client for one token. Cheap to clone.
#[derive(Clone)]
pub struct Bot {
    /// When set, every send waits for its slot in the token's shared budget.
    pub(crate) budget: Option<SendBudget>,
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
        Self::with_timeout(cfg, Duration::from_secs(30))
    }

    /// A client whose every call gives up after `timeout`.
    pub fn with_timeout(cfg: &TelegramConfig, timeout: Duration) -> Self {
        Bot {
            budget: None,
            http: runtime::http::client(timeout),
            method_base: format!("{}/bot{}", cfg.api_base, cfg.token.expose_secret()),
            file_base: format!("{}/file/bot{}", cfg.api_base, cfg.token.expose_secret()),
        }
    }

    /// Paces every send of this client through the token's shared budget.
    pub fn paced(mut self, budget: SendBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Calls a method with JSON parameters, carrying the current trace context.
    /// Sends wait for their slot in the shared budget when the client is paced.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
    ) -> Result<T, TgError> {
        let paced = self.budget.as_ref().filter(|_| is_send(method));
        if let Some(budget) = paced {
            let paid = params.get("allow_paid_broadcast") == Some(&Value::Bool(true));
            // The chat is marked too: a campaign message does not follow a
            // reply into the same chat within a second (Telegram's per-chat limit).
            let chat = params.get("chat_id").and_then(Value::as_i64);
            budget.wait_turn(paid, chat).await?;
        }
        // A 429 here is not shared as a pause of the whole token: replies are
        // paced globally, so theirs is almost always the chat's own limit (a
        // dialog's burst), which must not stop every campaign. The caller
        // waits it out (`call_patiently`).
        self.call_unpaced(method, params).await
    }

    /// Calls a method without waiting for a budget slot: for the broadcast
    /// engine, which reserves its slots in batches itself.
    pub async fn call_unpaced<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
    ) -> Result<T, TgError> {
        let url = format!("{}/{}", self.method_base, method);
        self.execute(method, self.http.post(url).json(params)).await
    }

    /// Sends one prepared request and classifies the answer.
    async fn execute<T: DeserializeOwned>(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, TgError> {
        let resp = runtime::http::traced(request).send().await.map_err(|e| {
            // Refused before anything was written: Telegram never saw it.
            if e.is_connect() {
                TgError::NotSent(format!("{method}: {}", e.without_url()))
            } else {
                TgError::Unconfirmed(format!("{method}: {}", e.without_url()))
            }
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| TgError::Unconfirmed(format!("{method}: {}", e.without_url())))?;
        let reply: Reply<T> = serde_json::from_slice(&body).map_err(|e| {
            if status >= 500 {
                // Not Telegram's JSON error: a proxy in front of it (a 502 or
                // 504 after its upstream timed out) may have passed the request on.
                TgError::Unconfirmed(format!("{method}: HTTP {status} from a proxy"))
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
        let mut params = serde_json::to_value(opts).expect("options serialize");
        params["chat_id"] = json!(chat_id);
        params["text"] = json!(text);
        self.call_patiently("sendMessage", &params, patience).await
    }

    /// Any method, waiting out flood limits within `patience` like
    /// [`Bot::send_message_patiently`].
    pub async fn call_patiently<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &Value,
        patience: Duration,
    ) -> Result<T, TgError> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match self.call(method, params).await {
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

    /// Uploads a file by sending it to a chat, which is Telegram's only way
    /// to give a bot a `file_id` for it (`method` sendPhoto, sendVideo,
    /// sendDocument or sendAnimation; `field` photo, video, document or
    /// animation). Paced like any send.
    pub async fn send_file(
        &self,
        method: &str,
        field: &str,
        chat_id: i64,
        bytes: Vec<u8>,
        file_name: &str,
    ) -> Result<Message, TgError> {
        if let Some(budget) = &self.budget {
            budget.wait_turn(false, Some(chat_id)).await?;
        }
        let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string());
        let form = reqwest::multipart::Form::new()
            .text("chat_id", chat_id.to_string())
            .part(field.to_string(), part);
        let request = self
            .http
            .post(format!("{}/{method}", self.method_base))
            .multipart(form);
        self.execute(method, request).await
    }

    /// setWebhook with a self-signed certificate uploaded (multipart), which
    /// Telegram needs to trust a webhook whose certificate no public CA signed.
    pub async fn set_webhook_with_certificate(
        &self,
        url: &str,
        secret_token: &str,
        allowed_updates: &[&str],
        certificate_pem: Vec<u8>,
    ) -> Result<(), TgError> {
        let certificate = reqwest::multipart::Part::bytes(certificate_pem)
            .file_name("cert.pem")
            .mime_str("application/x-pem-file")
            .expect("a valid MIME type");
        let form = reqwest::multipart::Form::new()
            .text("url", url.to_string())
            .text("secret_token", secret_token.to_string())
            .text("allowed_updates", json!(allowed_updates).to_string())
            .text("max_connections", "40")
            .part("certificate", certificate);
        let request = self
            .http
            .post(format!("{}/setWebhook", self.method_base))
            .multipart(form);
        self.execute::<bool>("setWebhook", request)
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
    fn budgets_past_telegrams_limit_are_refused_for_telegram_only() {
        let cfg = |base: Option<&str>, paid: &str| {
            let mut pairs = vec![
                ("TELEGRAM_TOKEN", "1:abc"),
                ("TELEGRAM_PAID_RATE_LIMIT", paid),
            ];
            if let Some(b) = base {
                pairs.push(("TELEGRAM_API_BASE", b));
            }
            TelegramConfig::from_env(&Env::from_pairs(pairs))
        };
        for base in [
            None,
            Some("https://api.telegram.org"),
            Some("https://API.Telegram.org.:443/"),
        ] {
            let err = cfg(base, "1001").unwrap_err().to_string();
            assert!(
                err.contains("TELEGRAM_PAID_RATE_LIMIT") && err.contains("1000"),
                "{base:?}: {err}"
            );
            assert_eq!(cfg(base, "1000").unwrap().paid_rate_limit, 1000);
        }
        let sandbox = Some("http://127.0.0.1:8091");
        assert_eq!(cfg(sandbox, "20000").unwrap().paid_rate_limit, 20_000);
        // A look-alike host is not Telegram's...
        let other = Some("https://api.telegram.org.example.com");
        assert_eq!(cfg(other, "5000").unwrap().paid_rate_limit, 5000);
        // ...and Telegram's host written oddly still is.
        for odd in [
            r"https://api.telegram.org\@example.com",
            "https:///api.telegram.org",
            "https://api%2Etelegram.org",
            "https://user:pw@api.telegram.org:443/x",
        ] {
            assert!(cfg(Some(odd), "1001").is_err(), "{odd}");
        }
        assert!(cfg(sandbox, "100001").is_err());
        assert!(cfg(sandbox, "0").is_err());
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

use ipnet::IpNet;
use md5::{Digest, Md5};
use runtime::config::{CommonConfig, ConfigError, Env, grpc_url, listen_addr, public_url};
use runtime::db::DbConfig;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::time::Duration;

/// How much longer than its answer the work on an update may take.
const WORK_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `GATEWAY_LISTEN` (default 0.0.0.0:8081, behind nginx).
    pub listen: SocketAddr,
    /// `WEBHOOK_PATH` (default /webhook).
    pub webhook_path: String,
    /// The public URL registered with setWebhook, from `WEBHOOK_HOST`,
    /// `WEBHOOK_PORT` and `WEBHOOK_PATH`; None leaves the webhook alone.
    pub webhook_url: Option<String>,
    /// Telegram echoes this in `X-Telegram-Bot-Api-Secret-Token`.
    pub webhook_secret: SecretString,
    pub bot_url: String,
    pub payments_url: String,
    pub broadcast_url: String,
    /// `HANDOVER_TIMEOUT`: the one budget for answering an update (waiting
    /// for the chat's turn, the claim and the hand-over together), below
    /// nginx's read timeout so the gateway always answers first. Work still
    /// running when it ends is not cut: it finishes in the background (up to
    /// [`Config::work_limit`]) and the redelivery finds it done.
    pub update_budget: Duration,
    /// How long the work on one update may go on at all, answered or not; the
    /// deadline of the gRPC calls to the services.
    pub work_limit: Duration,
    /// Peers whose `X-Real-IP` we believe (nginx). Anyone else is judged by
    /// the TCP peer address, so a client cannot spoof its address.
    pub trusted_proxies: Vec<IpNet>,
    /// `OPS_ALLOWED_IPS`: who may read `/metrics` and the detailed
    /// `/health/*` (loopback and private ranges by default; see `ops.rs`).
    pub ops_allowed: Vec<IpNet>,
    /// `SSL_CERT_PATH`: nginx's certificate; uploaded with setWebhook when
    /// no public CA signed it (see `certificate.rs`).
    pub webhook_certificate: Option<std::path::PathBuf>,
    pub db: DbConfig,
    pub redis: cache::RedisConfig,
    pub telegram: telegram::TelegramConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let telegram = telegram::TelegramConfig::from_env(env)?;
        let webhook_path = env.string_or("WEBHOOK_PATH", "/webhook");
        if !webhook_path.starts_with('/')
            || webhook_path.starts_with("/health")
            || webhook_path == "/heleket/webhook"
        {
            return Err(ConfigError::malformed(
                "WEBHOOK_PATH",
                &webhook_path,
                "must start with / and not clash with /health or /heleket/webhook",
            ));
        }
        let webhook_secret = match env.optional("TELEGRAM_WEBHOOK_SECRET") {
            Some(s) if valid_secret(&s) => SecretString::from(s),
            Some(s) => {
                return Err(ConfigError::malformed(
                    "TELEGRAM_WEBHOOK_SECRET",
                    &"*".repeat(s.len().min(8)),
                    "must be 1-256 characters of A-Z a-z 0-9 _ -",
                ));
            }
            None => SecretString::from(derived_secret(telegram.token.expose_secret())),
        };
        let webhook_url = match env.optional("WEBHOOK_HOST") {
            None => None,
            Some(host) => Some(public_url(
                &host,
                env.parse_or::<u16>("WEBHOOK_PORT", 0)?,
                &webhook_path,
            )?),
        };
        let trusted_proxies = runtime::client_ip::trusted_proxies(env)?;
        let common = CommonConfig::from_env(env)?;
        let budget = common.deadlines.update_budget;
        Ok(Config {
            common,
            listen: listen_addr(env, "GATEWAY_LISTEN", "0.0.0.0:8081")?,
            webhook_path,
            webhook_url,
            webhook_secret,
            bot_url: grpc_url(env, "BOT_GRPC_URL", "http://bot:50051")?,
            payments_url: grpc_url(env, "PAYMENTS_GRPC_URL", "http://payments:50052")?,
            broadcast_url: grpc_url(env, "BROADCAST_GRPC_URL", "http://broadcast:50053")?,
            update_budget: budget,
            // Room for the bot's slowest path (a payments call and replies that
            // wait out Telegram's flood limits) after the answer has gone.
            work_limit: budget + WORK_GRACE,
            trusted_proxies,
            ops_allowed: env.list_or("OPS_ALLOWED_IPS", crate::ops::default_allowlist())?,
            webhook_certificate: env.optional("SSL_CERT_PATH").map(Into::into),
            db: DbConfig::from_env(env)?,
            redis: cache::RedisConfig::from_env(env)?,
            telegram,
        })
    }
}

/// Telegram's rule for `secret_token`.
fn valid_secret(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// With no `TELEGRAM_WEBHOOK_SECRET` (the seed's `.env` has none) the secret
/// is derived from the bot token: unguessable without the token, and the same
/// in every gateway replica, so the seed's configuration still checks secrets.
fn derived_secret(token: &str) -> String {
    let mut h = Md5::new();
    h.update(b"starshop-webhook-secret:");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_secret_is_stable_and_valid_for_telegram() {
        let a = derived_secret("1:abc");
        assert_eq!(a, derived_secret("1:abc"));
        assert_ne!(a, derived_secret("1:abd"));
        assert!(valid_secret(&a));
    }

    #[test]
    fn bad_secret_is_rejected_without_echoing_it() {
        let env = Env::from_pairs([
            ("TELEGRAM_TOKEN", "1:abc"),
            ("TELEGRAM_WEBHOOK_SECRET", "has spaces!"),
        ]);
        let err = Config::from_env(&env).unwrap_err().to_string();
        assert!(
            err.contains("TELEGRAM_WEBHOOK_SECRET") && !err.contains("has spaces"),
            "{err}"
        );
    }
}

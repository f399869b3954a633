use crate::pricing::Pricing;
use runtime::config::{CommonConfig, ConfigError, Deadlines, Env, listen_addr, public_url};
use runtime::db::DbConfig;
use secrecy::SecretString;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HeleketConfig {
    /// `MERCHANT_UUID`, sent as the `merchant` header.
    pub merchant: String,
    /// `API_KEY`, the payment key: signs requests and verifies callbacks.
    pub api_key: SecretString,
    /// `HELEKET_API_BASE` (default https://api.heleket.com).
    pub api_base: String,
    /// `HELEKET_REQUEST_TIMEOUT` (the innermost of [`runtime::config::Deadlines`]):
    /// the deadline of one Heleket operation. Not `PAYMENT_TIMEOUT`, which is
    /// the invoice lifetime, as in the seed.
    pub timeout: Duration,
    /// `CIRCUIT_BREAKER_FAILURE_THRESHOLD`: consecutive failures that open the breaker.
    pub breaker_threshold: u32,
    /// `CIRCUIT_BREAKER_RECOVERY_TIMEOUT`: how long it stays open before a trial call.
    pub breaker_recovery: Duration,
    /// `HELEKET_ALLOWED_IPS`: where callbacks may come from (defence in depth;
    /// the signature is the real check). Empty list = any address.
    pub allowed_ips: Vec<IpAddr>,
}

impl HeleketConfig {
    pub fn from_env(env: &Env, deadlines: &Deadlines) -> Result<Self, ConfigError> {
        let api_base = env.string_or("HELEKET_API_BASE", "https://api.heleket.com");
        if !(api_base.starts_with("http://") || api_base.starts_with("https://")) {
            return Err(ConfigError::malformed(
                "HELEKET_API_BASE",
                &api_base,
                "expected an http(s) URL",
            ));
        }
        let breaker_threshold: u32 = env.parse_or("CIRCUIT_BREAKER_FAILURE_THRESHOLD", 5)?;
        if breaker_threshold == 0 {
            return Err(ConfigError::malformed(
                "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
                "0",
                "must be at least 1",
            ));
        }
        Ok(HeleketConfig {
            merchant: env.required("MERCHANT_UUID")?,
            api_key: SecretString::from(env.required("API_KEY")?),
            api_base: api_base.trim_end_matches('/').to_string(),
            timeout: deadlines.heleket_call,
            breaker_threshold,
            breaker_recovery: env.seconds_within(
                "CIRCUIT_BREAKER_RECOVERY_TIMEOUT",
                Duration::from_secs(60),
                Duration::from_millis(100)..=Duration::from_secs(3600),
            )?,
            allowed_ips: env.list_or(
                "HELEKET_ALLOWED_IPS",
                vec!["31.133.220.8".parse().expect("valid ip")],
            )?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `PAYMENTS_LISTEN`: gRPC for the gateway and bot, plus HTTP /health and /metrics.
    pub listen: SocketAddr,
    pub db: DbConfig,
    pub redis: cache::RedisConfig,
    pub telegram: telegram::TelegramConfig,
    pub heleket: HeleketConfig,
    pub pricing: Pricing,
    /// Where Heleket sends callbacks: `HELEKET_CALLBACK_URL`, else
    /// `WEBHOOK_HOST`[:`WEBHOOK_PORT`]`/heleket/webhook`; None sends no
    /// `url_callback` (the reconciler still finds the payment).
    pub callback_url: Option<String>,
    /// `PAYMENT_TIMEOUT`, the seed's name: how long a buyer has to pay an
    /// invoice (seconds; Heleket allows 300-43200).
    pub invoice_lifetime: Duration,
    /// `RECONCILE_INTERVAL`: how often open orders are checked with Heleket.
    pub reconcile_interval: Duration,
    /// `RECONCILE_MIN_AGE`: give callbacks this long before polling an order.
    pub reconcile_min_age: Duration,
    /// `CALLBACK_LEASE`: how long a claimed callback is reserved for its
    /// processor before a redelivery may take it (the processor died).
    pub callback_lease: Duration,
    /// `STATUS_CHECK_COOLDOWN`: at most one Heleket query per order this often
    /// from the "check status" button.
    pub status_check_cooldown: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        let heleket = HeleketConfig::from_env(env, &common.deadlines)?;
        Ok(Config {
            common,
            listen: listen_addr(env, "PAYMENTS_LISTEN", "0.0.0.0:50052")?,
            db: DbConfig::from_env(env)?,
            redis: cache::RedisConfig::from_env(env)?,
            telegram: telegram::TelegramConfig::from_env(env)?,
            heleket,
            pricing: Pricing::from_env(env)?,
            callback_url: match (
                env.optional("HELEKET_CALLBACK_URL"),
                env.optional("WEBHOOK_HOST"),
            ) {
                (Some(url), _) => Some(url),
                (None, Some(host)) => Some(public_url(
                    &host,
                    env.parse_or("WEBHOOK_PORT", 0)?,
                    "/heleket/webhook",
                )?),
                (None, None) => None,
            },
            // Whole seconds: Heleket takes an integer `lifetime`.
            invoice_lifetime: Duration::from_secs(
                env.seconds_within(
                    "PAYMENT_TIMEOUT",
                    Duration::from_secs(3600),
                    Duration::from_secs(300)..=Duration::from_secs(43200),
                )?
                .as_secs(),
            ),
            // Zero would busy-loop the reconciler; a day is as rare as it is useful.
            reconcile_interval: env.seconds_within(
                "RECONCILE_INTERVAL",
                Duration::from_secs(60),
                Duration::from_millis(100)..=Duration::from_secs(86400),
            )?,
            reconcile_min_age: env.seconds_within(
                "RECONCILE_MIN_AGE",
                Duration::from_secs(120),
                Duration::ZERO..=Duration::from_secs(86400),
            )?,
            callback_lease: env.seconds_within(
                "CALLBACK_LEASE",
                Duration::from_secs(30),
                Duration::from_millis(100)..=Duration::from_secs(3600),
            )?,
            status_check_cooldown: env.seconds_within(
                "STATUS_CHECK_COOLDOWN",
                Duration::from_secs(10),
                Duration::ZERO..=Duration::from_secs(3600),
            )?,
        })
    }
}

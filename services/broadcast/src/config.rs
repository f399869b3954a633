use runtime::config::{CommonConfig, ConfigError, Env, listen_addr};
use runtime::db::DbConfig;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `BROADCAST_LISTEN`: gRPC plus HTTP /health and /metrics.
    pub listen: SocketAddr,
    pub db: DbConfig,
    pub redis: cache::RedisConfig,
    /// Carries `TELEGRAM_RATE_LIMIT` / `TELEGRAM_PAID_RATE_LIMIT`, the budget
    /// every sender of the token shares.
    pub telegram: telegram::TelegramConfig,
    pub engine: EngineConfig,
    /// `BROADCAST_TIMEZONE` (IANA name, default UTC): how "at 09:30" and
    /// recurring schedules are read when a campaign names no zone.
    pub timezone: String,
}

/// Knobs of the delivery engine; the defaults suit production, tests shorten
/// the times.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `BROADCAST_SEND_TIMEOUT` (10 s): one Bot API call. A send that times
    /// out may have been delivered, so it is recorded "unknown", never resent.
    pub send_timeout: Duration,
    /// `BROADCAST_CLAIM_LEASE` (60 s): a recipient claimed for sending longer
    /// than this belongs to a sender that died; it becomes "unknown". Must
    /// exceed the send timeout plus the time to record an outcome. A replica
    /// whose heartbeat stopped is found sooner (`engine::liveness`).
    pub claim_lease: Duration,
    /// `BROADCAST_POLL_INTERVAL` (0.25 s): how often each replica looks for
    /// due, paused and cancelled campaigns. Pause takes effect within it.
    pub poll_interval: Duration,
    /// `BROADCAST_MAX_ATTEMPTS` (5): tries for 5xx / network errors before a
    /// recipient is failed with the last reason.
    pub max_attempts: u32,
    /// `BROADCAST_RETRY_BASE` (2 s): first backoff after a transient error; doubles.
    pub retry_base: Duration,
    /// `BROADCAST_PROGRESS_INTERVAL` (3 s): how often the live progress
    /// message is edited (Telegram tolerates about one edit per second per chat).
    pub progress_interval: Duration,
    /// How far ahead a worker may reserve budget slots; also what a reply to
    /// a user waits behind at most.
    pub lookahead: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            send_timeout: Duration::from_secs(10),
            claim_lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(250),
            max_attempts: 5,
            retry_base: Duration::from_secs(2),
            progress_interval: Duration::from_secs(3),
            lookahead: Duration::from_millis(200),
        }
    }
}

impl EngineConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = EngineConfig::default();
        let secs = Duration::from_secs;
        let ms = Duration::from_millis;
        let send_timeout = env.seconds_within(
            "BROADCAST_SEND_TIMEOUT",
            d.send_timeout,
            ms(100)..=secs(120),
        )?;
        let claim_lease =
            env.seconds_within("BROADCAST_CLAIM_LEASE", d.claim_lease, secs(1)..=secs(3600))?;
        if claim_lease <= send_timeout {
            return Err(ConfigError::malformed(
                "BROADCAST_CLAIM_LEASE",
                &claim_lease.as_secs_f64().to_string(),
                "must be longer than BROADCAST_SEND_TIMEOUT, or live sends would be counted unknown",
            ));
        }
        let max_attempts: u32 = env.parse_or("BROADCAST_MAX_ATTEMPTS", d.max_attempts)?;
        if !(1..=100).contains(&max_attempts) {
            return Err(ConfigError::malformed(
                "BROADCAST_MAX_ATTEMPTS",
                &max_attempts.to_string(),
                "must be between 1 and 100",
            ));
        }
        Ok(EngineConfig {
            send_timeout,
            claim_lease,
            poll_interval: env.seconds_within(
                "BROADCAST_POLL_INTERVAL",
                d.poll_interval,
                ms(10)..=secs(10),
            )?,
            max_attempts,
            retry_base: env.seconds_within(
                "BROADCAST_RETRY_BASE",
                d.retry_base,
                ms(10)..=secs(600),
            )?,
            progress_interval: env.seconds_within(
                "BROADCAST_PROGRESS_INTERVAL",
                d.progress_interval,
                secs(1)..=secs(600),
            )?,
            lookahead: d.lookahead,
        })
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let timezone = env.string_or("BROADCAST_TIMEZONE", "UTC");
        crate::schedule::parse_timezone(&timezone)
            .map_err(|e| ConfigError::malformed("BROADCAST_TIMEZONE", &timezone, e))?;
        Ok(Config {
            common: CommonConfig::from_env(env)?,
            listen: listen_addr(env, "BROADCAST_LISTEN", "0.0.0.0:50053")?,
            db: DbConfig::from_env(env)?,
            redis: cache::RedisConfig::from_env(env)?,
            telegram: telegram::TelegramConfig::from_env(env)?,
            engine: EngineConfig::from_env(env)?,
            timezone,
        })
    }
}

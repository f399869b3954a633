use runtime::config::{CommonConfig, ConfigError, Env, listen_addr};
use runtime::db::DbConfig;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `BOT_LISTEN`: gRPC for the gateway, plus HTTP /health and /metrics.
    pub listen: SocketAddr,
    /// `PAYMENTS_GRPC_URL`: where orders, balances and history live.
    pub payments_url: String,
    pub payments_timeout: Duration,
    /// `RATE_LIMIT_REQUESTS_PER_MINUTE` / `RATE_LIMIT_BURST`: per user, shared
    /// by all bot replicas through Redis.
    pub rate_limit: cache::RateLimit,
    pub db: DbConfig,
    pub redis: cache::RedisConfig,
    pub telegram: telegram::TelegramConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let payments_url = env.string_or("PAYMENTS_GRPC_URL", "http://payments:50052");
        if !(payments_url.starts_with("http://") || payments_url.starts_with("https://")) {
            return Err(ConfigError::malformed(
                "PAYMENTS_GRPC_URL",
                &payments_url,
                "expected http://host:port",
            ));
        }
        let per_minute: u32 = env.parse_or("RATE_LIMIT_REQUESTS_PER_MINUTE", 60)?;
        let burst: u32 = env.parse_or("RATE_LIMIT_BURST", 10)?;
        if per_minute == 0 || burst == 0 {
            return Err(ConfigError::malformed(
                "RATE_LIMIT_REQUESTS_PER_MINUTE",
                &per_minute.to_string(),
                "the rate limit and RATE_LIMIT_BURST must be at least 1",
            ));
        }
        let common = CommonConfig::from_env(env)?;
        // Longer than one Heleket call (payments bounds that), shorter than
        // the gateway's budget: checked by Deadlines.
        let payments_timeout = common.deadlines.payments_call;
        Ok(Config {
            common,
            listen: listen_addr(env, "BOT_LISTEN", "0.0.0.0:50051")?,
            payments_url,
            payments_timeout,
            rate_limit: cache::RateLimit { per_minute, burst },
            db: DbConfig::from_env(env)?,
            redis: cache::RedisConfig::from_env(env)?,
            telegram: telegram::TelegramConfig::from_env(env)?,
        })
    }
}

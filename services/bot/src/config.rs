use runtime::config::{CommonConfig, ConfigError, Env, grpc_url, listen_addr};
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
    /// `BROADCAST_GRPC_URL`: the broadcast service (campaigns, stats).
    pub broadcast_url: String,
    pub broadcast_timeout: Duration,
    /// `RATE_LIMIT_REQUESTS_PER_MINUTE` / `RATE_LIMIT_BURST`: per user, shared
    /// by all bot replicas through Redis.
    pub rate_limit: cache::RateLimit,
    pub db: DbConfig,
    pub redis: cache::RedisConfig,
    pub telegram: telegram::TelegramConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let payments_url = grpc_url(env, "PAYMENTS_GRPC_URL", "http://payments:50052")?;
        let broadcast_url = grpc_url(env, "BROADCAST_GRPC_URL", "http://broadcast:50053")?;
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
        // The same bound for broadcast calls: each is one query or one small
        // write, and it must end before the gateway's budget for the update.
        let broadcast_timeout = common.deadlines.payments_call;
        Ok(Config {
            common,
            listen: listen_addr(env, "BOT_LISTEN", "0.0.0.0:50051")?,
            payments_url,
            payments_timeout,
            broadcast_url,
            broadcast_timeout,
            rate_limit: cache::RateLimit { per_minute, burst },
            db: DbConfig::from_env(env)?,
            redis: cache::RedisConfig::from_env(env)?,
            telegram: telegram::TelegramConfig::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_urls_default_to_compose_names_and_must_be_http() {
        let env = Env::from_pairs([("X", "1")]);
        assert_eq!(
            grpc_url(&env, "BROADCAST_GRPC_URL", "http://broadcast:50053").unwrap(),
            "http://broadcast:50053"
        );
        let bad = Env::from_pairs([("BROADCAST_GRPC_URL", "broadcast:50053")]);
        let err = grpc_url(&bad, "BROADCAST_GRPC_URL", "http://broadcast:50053").unwrap_err();
        assert!(err.to_string().contains("BROADCAST_GRPC_URL"), "{err}");
    }
}

use runtime::config::{CommonConfig, ConfigError, Env, listen_addr};
use runtime::db::DbConfig;
use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `BOT_LISTEN`: gRPC for the gateway, plus HTTP /health and /metrics.
    pub listen: SocketAddr,
    pub db: DbConfig,
    pub redis: cache::RedisConfig,
    pub telegram: telegram::TelegramConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Config {
            common: CommonConfig::from_env(env)?,
            listen: listen_addr(env, "BOT_LISTEN", "0.0.0.0:50051")?,
            db: DbConfig::from_env(env)?,
            redis: cache::RedisConfig::from_env(env)?,
            telegram: telegram::TelegramConfig::from_env(env)?,
        })
    }
}

use runtime::config::{CommonConfig, ConfigError, Env, listen_addr};
use runtime::db::DbConfig;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;

/// The shortest signing key we accept: HS256 is only as strong as its key.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `ADMIN_LISTEN` (0.0.0.0:8085): the admin API; nginx routes `/admin/` here.
    pub listen: SocketAddr,
    pub db: DbConfig,
    pub redis: cache::RedisConfig,
    pub auth: AuthConfig,
    /// `ADMIN_OWNER_LOGIN` / `ADMIN_OWNER_PASSWORD`: created as the first owner
    /// at start-up when no admin exists yet; ignored afterwards.
    pub first_owner: Option<(String, SecretString)>,
    /// `BROADCAST_GRPC_URL` (http://broadcast:50053): campaigns are the broadcast service's.
    pub broadcast_url: String,
    /// `PAYMENTS_GRPC_URL` (http://payments:50052): support resends pay links through it.
    pub payments_url: String,
    /// One broadcast call; shorter than nginx's read timeout, so the API answers
    /// before nginx gives up (starting a million-recipient campaign takes ~10 s).
    pub broadcast_timeout: Duration,
    /// `TRUSTED_PROXIES` (loopback): whose `X-Real-IP` is believed, as in the gateway.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `ADMIN_JWT_SECRET`: signs access tokens; shared by every admin replica.
    pub jwt_secret: SecretString,
    /// False when `ADMIN_JWT_SECRET` was unset and a random key is used.
    pub jwt_secret_configured: bool,
    /// `ADMIN_ACCESS_TTL` (900 s): an access token's life.
    pub access_ttl: Duration,
    /// `ADMIN_REFRESH_TTL` (30 days): a session's life without a sign-in.
    pub refresh_ttl: Duration,
    /// `ADMIN_LOGIN_MAX_FAILURES` (5): failed sign-ins before the account locks.
    pub max_failures: u32,
    /// `ADMIN_LOGIN_LOCKOUT` (900 s): how long a locked account stays locked.
    pub lockout: Duration,
    /// `ADMIN_LOGIN_PER_MINUTE` (10): sign-in attempts per client address.
    pub login_per_minute: u32,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        let jwt_secret = match env.optional("ADMIN_JWT_SECRET") {
            Some(s) if s.len() >= MIN_SECRET_BYTES => SecretString::from(s),
            Some(_) => {
                return Err(ConfigError::malformed(
                    "ADMIN_JWT_SECRET",
                    "<redacted>",
                    format!("must be at least {MIN_SECRET_BYTES} characters"),
                ));
            }
            // The seed's .env has no such variable and must still start the
            // fleet: a key of this process's own is used (App::build warns).
            // Sessions live in Postgres, so after a restart clients refresh;
            // only several admin replicas need the shared key.
            None => SecretString::from(hex::encode(rand::random::<[u8; 32]>())),
        };
        let first_owner = match (
            env.optional("ADMIN_OWNER_LOGIN"),
            env.optional("ADMIN_OWNER_PASSWORD"),
        ) {
            (Some(login), Some(password)) => {
                crate::auth::check_login_name(&login)
                    .map_err(|e| ConfigError::malformed("ADMIN_OWNER_LOGIN", &login, e))?;
                crate::auth::check_password(&password)
                    .map_err(|e| ConfigError::malformed("ADMIN_OWNER_PASSWORD", "<redacted>", e))?;
                Some((login, SecretString::from(password)))
            }
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("ADMIN_OWNER_PASSWORD".into())),
            (None, Some(_)) => return Err(ConfigError::Missing("ADMIN_OWNER_LOGIN".into())),
        };
        let secs = Duration::from_secs;
        let max_failures = env.u32_within("ADMIN_LOGIN_MAX_FAILURES", 5, 1..=100)?;
        let login_per_minute = env.u32_within("ADMIN_LOGIN_PER_MINUTE", 10, 1..=10_000)?;
        Ok(Config {
            listen: listen_addr(env, "ADMIN_LISTEN", "0.0.0.0:8085")?,
            db: DbConfig::from_env(env)?,
            redis: cache::RedisConfig::from_env(env)?,
            auth: AuthConfig {
                jwt_secret,
                jwt_secret_configured: env.get("ADMIN_JWT_SECRET").is_some(),
                access_ttl: env.seconds_within(
                    "ADMIN_ACCESS_TTL",
                    secs(900),
                    secs(10)..=secs(86_400),
                )?,
                refresh_ttl: env.seconds_within(
                    "ADMIN_REFRESH_TTL",
                    secs(30 * 86_400),
                    secs(60)..=secs(365 * 86_400),
                )?,
                max_failures,
                lockout: env.seconds_within(
                    "ADMIN_LOGIN_LOCKOUT",
                    secs(900),
                    secs(1)..=secs(86_400),
                )?,
                login_per_minute,
            },
            first_owner,
            trusted_proxies: runtime::client_ip::trusted_proxies(env)?,
            broadcast_url: runtime::config::grpc_url(
                env,
                "BROADCAST_GRPC_URL",
                "http://broadcast:50053",
            )?,
            broadcast_timeout: common.deadlines.update_budget,
            payments_url: runtime::config::grpc_url(
                env,
                "PAYMENTS_GRPC_URL",
                "http://payments:50052",
            )?,
            common,
        })
    }
}

//! Postgres: pool sized from the seed's variables, TLS for Neon, migrations.

use crate::config::{ConfigError, Env};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DbConfig {
    /// The connection URL in sqlx's form (scheme and TLS options normalised);
    /// secret because it carries the password.
    url: SecretString,
    /// The TLS mode the operator asked for, after mapping (see [`normalize_url`]).
    pub ssl_mode: PgSslMode,
    /// Connections kept open (the seed's SQLAlchemy `pool_size`).
    pub pool_size: u32,
    /// Extra connections allowed under load (`max_overflow`).
    pub max_overflow: u32,
    pub acquire_timeout: Duration,
}

impl DbConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw = env.required("DATABASE_URL")?;
        // The value is never echoed: it holds the password.
        let malformed =
            |reason: String| ConfigError::malformed("DATABASE_URL", "<redacted>", reason);
        let (url, ssl_mode) = normalize_url(&raw).map_err(malformed)?;
        // Validate now so a typo stops start-up with the variable's name,
        // instead of surfacing later as a connection error.
        PgConnectOptions::from_str(&url).map_err(|e| malformed(e.to_string()))?;
        let pool_size: u32 = env.parse_or("DATABASE_POOL_SIZE", 5)?;
        let max_overflow: u32 = env.parse_or("DATABASE_MAX_OVERFLOW", 10)?;
        if pool_size + max_overflow == 0 || pool_size + max_overflow > 1000 {
            return Err(ConfigError::malformed(
                "DATABASE_POOL_SIZE",
                &pool_size.to_string(),
                "DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW must be between 1 and 1000",
            ));
        }
        Ok(DbConfig {
            url: SecretString::from(url),
            ssl_mode,
            pool_size,
            max_overflow,
            acquire_timeout: env.seconds_within(
                "DATABASE_ACQUIRE_TIMEOUT",
                Duration::from_secs(5),
                Duration::from_millis(100)..=Duration::from_secs(120),
            )?,
        })
    }

    pub fn max_connections(&self) -> u32 {
        (self.pool_size + self.max_overflow).max(1)
    }

    /// Connection options with the TLS mode enforced.
    pub fn connect_options(&self) -> Result<PgConnectOptions, sqlx::Error> {
        Ok(PgConnectOptions::from_str(self.url.expose_secret())?.ssl_mode(self.ssl_mode))
    }
}

/// Turns the URL forms people copy from their provider or from the seed's
/// SQLAlchemy configuration into sqlx's, and decides the TLS mode:
///
/// - schemes `postgres://`, `postgresql://` and SQLAlchemy's
///   `postgresql+asyncpg://` / `postgresql+psycopg://` (any `+driver`);
/// - asyncpg's `ssl=` and libpq's `sslmode=` (one of them);
/// - a mode that asks for TLS (`require`, `ssl=true`, `verify-ca`,
///   `verify-full`) is enforced with the certificate **and host name**
///   verified against the webpki roots (or `sslrootcert`): libpq's `require`
///   would accept any certificate, which defeats asking for TLS at all.
///   `disable`, `allow` and `prefer` are kept as written; no mode means
///   `prefer`, sqlx's default.
pub fn normalize_url(raw: &str) -> Result<(String, PgSslMode), String> {
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or("expected postgresql://user:password@host:port/db")?;
    let base = scheme.split_once('+').map_or(scheme, |(b, _)| b);
    if !matches!(base, "postgres" | "postgresql") {
        return Err(format!(
            "unsupported scheme {scheme:?}: expected postgresql://, postgres:// or postgresql+asyncpg://"
        ));
    }
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut kept = Vec::new();
    let mut requested: Option<(&str, String)> = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "ssl" | "sslmode" | "ssl-mode" => {
                if let Some((first, _)) = &requested {
                    return Err(format!("both {first}= and {k}= are set: keep one"));
                }
                requested = Some((k, v.to_ascii_lowercase()));
            }
            _ => kept.push(pair),
        }
    }
    let mode = match requested.as_ref().map(|(_, v)| v.as_str()) {
        None => PgSslMode::Prefer,
        Some("disable" | "false" | "0" | "off") => PgSslMode::Disable,
        Some("allow") => PgSslMode::Allow,
        Some("prefer") => PgSslMode::Prefer,
        Some("require" | "true" | "1" | "on" | "verify-full" | "verify_full") => {
            PgSslMode::VerifyFull
        }
        Some("verify-ca" | "verify_ca") => PgSslMode::VerifyCa,
        Some(other) => {
            return Err(format!(
                "unknown TLS mode {other:?}: expected disable, prefer, require, verify-ca or verify-full"
            ));
        }
    };
    let mut url = format!("postgres://{location}");
    if !kept.is_empty() {
        url.push('?');
        url.push_str(&kept.join("&"));
    }
    Ok((url, mode))
}

/// A pooled connection idle at least this long is pinged before it is used.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// A lazily connecting pool: the service starts even while Postgres is down
/// and reports it in /health, instead of crash-looping. TLS (Neon) is served
/// by rustls with the webpki roots.
pub fn pool(cfg: &DbConfig) -> Result<PgPool, sqlx::Error> {
    let opts = cfg
        .connect_options()?
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    Ok(PgPoolOptions::new()
        .max_connections(cfg.max_connections())
        .min_connections(cfg.pool_size.min(cfg.max_connections()))
        .acquire_timeout(cfg.acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        // sqlx pings every connection on its way back to the pool (always)
        // and, by default, again on its way out: three round trips per query.
        // A connection back less than a second ago was just proven by that
        // release ping, so only one idle longer is pinged before use (Neon or
        // a restarted Postgres closes idle ones; the ping finds those).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(opts))
}

/// The pool with the schema applied: what every service does at start-up.
pub async fn connect(cfg: &DbConfig) -> anyhow::Result<PgPool> {
    let db = pool(cfg)?;
    // Patience covers Postgres still starting next to us (compose, scripts).
    migrate(&db, Duration::from_secs(30)).await?;
    Ok(db)
}

/// Every table's schema, in order. Each service applies them at start-up;
/// sqlx takes an advisory lock, so concurrent starts are safe.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Applies migrations, retrying while the database is still coming up.
pub async fn migrate(pool: &PgPool, patience: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(sqlx::migrate::MigrateError::Execute(e))
                if is_transient(&e) && tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(error = %e, "database not ready; retrying migrations");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(anyhow::anyhow!("applying migrations: {e}")),
        }
    }
}

fn is_transient(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)
    )
}

/// `SELECT 1` with a deadline, for health checks.
pub async fn ping(pool: &PgPool, timeout: Duration) -> Result<Duration, String> {
    let start = std::time::Instant::now();
    match tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(pool)).await {
        Ok(Ok(_)) => Ok(start.elapsed()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_sqlalchemy_url_becomes_a_verified_tls_url() {
        let (url, mode) = normalize_url(
            "postgresql+asyncpg://username:password@host.neon.tech/database?ssl=require",
        )
        .unwrap();
        assert_eq!(url, "postgres://username:password@host.neon.tech/database");
        assert_eq!(format!("{mode:?}"), "VerifyFull");
    }

    #[test]
    fn tls_modes_map_without_downgrade() {
        for (q, want) in [
            ("sslmode=require", PgSslMode::VerifyFull),
            ("ssl=true", PgSslMode::VerifyFull),
            ("sslmode=verify-full", PgSslMode::VerifyFull),
            ("sslmode=verify-ca", PgSslMode::VerifyCa),
            ("sslmode=prefer", PgSslMode::Prefer),
            ("sslmode=disable", PgSslMode::Disable),
            ("ssl=disable", PgSslMode::Disable),
        ] {
            let (_, mode) = normalize_url(&format!("postgres://u:p@h/db?{q}")).unwrap();
            assert_eq!(format!("{mode:?}"), format!("{want:?}"), "{q}");
        }
        let (url, mode) = normalize_url("postgresql://u@h:5433/db").unwrap();
        assert_eq!(url, "postgres://u@h:5433/db");
        assert_eq!(format!("{mode:?}"), "Prefer");
    }

    #[test]
    fn other_parameters_survive_and_bad_forms_are_refused() {
        let (url, _) =
            normalize_url("postgres://u@h/db?application_name=x&ssl=require&sslrootcert=/ca.pem")
                .unwrap();
        assert_eq!(
            url,
            "postgres://u@h/db?application_name=x&sslrootcert=/ca.pem"
        );
        assert!(normalize_url("mysql://u@h/db").is_err());
        assert!(normalize_url("host=h dbname=db").is_err());
        assert!(normalize_url("postgres://u@h/db?ssl=maybe").is_err());
        assert!(normalize_url("postgres://u@h/db?ssl=require&sslmode=disable").is_err());
    }

    #[test]
    fn debug_output_hides_the_url() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://u:hunter2@h/db")]);
        let cfg = DbConfig::from_env(&env).unwrap();
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}

//! Postgres: pool sized from the seed's variables, TLS for Neon, migrations.

use crate::config::{ConfigError, Env};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: String,
    /// Connections kept open (the seed's SQLAlchemy `pool_size`).
    pub pool_size: u32,
    /// Extra connections allowed under load (`max_overflow`).
    pub max_overflow: u32,
    pub acquire_timeout: Duration,
}

impl DbConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.required("DATABASE_URL")?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::malformed(
                "DATABASE_URL",
                "<redacted>",
                "expected postgres://user:password@host:port/db",
            ));
        }
        // Validate now so a typo stops start-up with the variable's name,
        // instead of surfacing later as a connection error.
        PgConnectOptions::from_str(&url)
            .map_err(|e| ConfigError::malformed("DATABASE_URL", "<redacted>", e))?;
        Ok(DbConfig {
            url,
            pool_size: env.parse_or("DATABASE_POOL_SIZE", 5)?,
            max_overflow: env.parse_or("DATABASE_MAX_OVERFLOW", 10)?,
            acquire_timeout: env.seconds_or("DATABASE_ACQUIRE_TIMEOUT", Duration::from_secs(5))?,
        })
    }

    pub fn max_connections(&self) -> u32 {
        (self.pool_size + self.max_overflow).max(1)
    }
}

/// A lazily connecting pool: the service starts even while Postgres is down
/// and reports it in /health, instead of crash-looping. `sslmode=require`
/// in the URL (Neon) is served by rustls with the webpki roots.
pub fn pool(cfg: &DbConfig) -> Result<PgPool, sqlx::Error> {
    let opts = PgConnectOptions::from_str(&cfg.url)?
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    Ok(PgPoolOptions::new()
        .max_connections(cfg.max_connections())
        .min_connections(cfg.pool_size.min(cfg.max_connections()))
        .acquire_timeout(cfg.acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
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

//! `DATABASE_URL` TLS against a real Postgres that serves a certificate for
//! `localhost` from a private CA (scripts/infra.sh sets it up and exports the
//! CA as TEST_PG_TLS_CA). Asking for TLS must mean a verified certificate
//! and host name, in the seed's SQLAlchemy form as in libpq's.

use runtime::config::Env;
use runtime::db::DbConfig;
use std::time::Duration;

/// host:port of the test server, from TEST_DATABASE_URL.
fn server() -> (String, String) {
    let admin = std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is not set: run tests through scripts/test.sh");
    let u = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
    let ca = std::env::var("TEST_PG_TLS_CA")
        .expect("TEST_PG_TLS_CA is not set: run tests through scripts/test.sh (infra.sh gives Postgres a TLS certificate)");
    (u.port().unwrap_or(5432).to_string(), ca)
}

/// Connects with DATABASE_URL = `url` and reports whether the session is encrypted.
async fn session_ssl(url: &str) -> Result<bool, String> {
    runtime::http::install_crypto();
    let env = Env::from_pairs([
        ("DATABASE_URL", url),
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_MAX_OVERFLOW", "1"),
        ("DATABASE_ACQUIRE_TIMEOUT", "3"),
    ]);
    let cfg = DbConfig::from_env(&env).map_err(|e| e.to_string())?;
    let pool = runtime::db::pool(&cfg).map_err(|e| e.to_string())?;
    let ssl = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::query_scalar::<_, bool>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool),
    )
    .await
    .map_err(|_| "no answer".to_string())?
    .map_err(|e| e.to_string());
    pool.close().await;
    ssl
}

#[tokio::test]
async fn the_seeds_ssl_require_connects_encrypted_with_a_trusted_certificate() {
    let (port, ca) = server();
    let url = format!(
        "postgresql+asyncpg://starshop:starshop@localhost:{port}/postgres?ssl=require&sslrootcert={ca}"
    );
    assert_eq!(session_ssl(&url).await, Ok(true));
}

#[tokio::test]
async fn ssl_require_refuses_a_certificate_nobody_vouches_for() {
    // The server's certificate is signed by our private CA, which is not among
    // the webpki roots: libpq's `require` would connect anyway, we must not.
    let (port, _) = server();
    for url in [
        format!("postgresql+asyncpg://starshop:starshop@localhost:{port}/postgres?ssl=require"),
        format!("postgresql://starshop:starshop@localhost:{port}/postgres?sslmode=require"),
    ] {
        let got = session_ssl(&url).await;
        assert!(got.is_err(), "{url} connected: {got:?}");
    }
}

#[tokio::test]
async fn ssl_require_checks_the_host_name() {
    // A trusted certificate, but for "localhost", not "127.0.0.1".
    let (port, ca) = server();
    let url = format!(
        "postgres://starshop:starshop@127.0.0.1:{port}/postgres?sslmode=require&sslrootcert={ca}"
    );
    let got = session_ssl(&url).await;
    assert!(got.is_err(), "host name not verified: {got:?}");
}

#[tokio::test]
async fn disable_stays_plain() {
    let (port, _) = server();
    let url = format!("postgres://starshop:starshop@localhost:{port}/postgres?ssl=disable");
    assert_eq!(session_ssl(&url).await, Ok(false));
}

//! A fresh, empty Postgres database per test.
//!
//! The server is shared by the whole test run: `scripts/infra.sh up` starts a
//! private one on a free port and exports `TEST_DATABASE_URL` (an admin URL
//! of a role allowed to CREATE DATABASE). Every test then gets its own
//! database `test_<uuid>`, so tests run in parallel without seeing each
//! other's rows and migrations run against a clean schema each time.

use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use url::Url;

/// Bounds connecting and each admin statement so a wedged server fails the
/// test instead of hanging it.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A database created for one test. Dropping it drops the database (best
/// effort: a scratch server is thrown away after the run anyway).
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL of the new database (same server, role and options as
    /// the admin URL).
    pub url: String,
    /// The database's name, `test_<uuid without dashes>`.
    pub name: String,
    admin_url: String,
}

/// The admin URL: `TEST_DATABASE_URL`, else `DATABASE_URL`.
pub fn admin_url() -> anyhow::Result<String> {
    for var in ["TEST_DATABASE_URL", "DATABASE_URL"] {
        if let Ok(url) = std::env::var(var)
            && !url.trim().is_empty()
        {
            return Ok(url);
        }
    }
    bail!("TEST_DATABASE_URL is not set: run tests through scripts/test.sh")
}

/// Creates an empty database on the test server and returns its URL.
pub async fn fresh_database() -> anyhow::Result<TestDb> {
    fresh_database_at(&admin_url()?).await
}

/// Creates an empty database on the server of `admin_url` (a role allowed to
/// CREATE DATABASE), e.g. a [`crate::pg_server::PgServer`] of the test's own.
pub async fn fresh_database_at(admin_url: &str) -> anyhow::Result<TestDb> {
    let admin_url = admin_url.to_string();
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let url = database_url(&admin_url, &name)?;

    let mut conn = connect(&admin_url).await?;
    // The name is ours (a fixed prefix and hex digits), never user input, and
    // CREATE DATABASE takes no bind parameters: formatting it in is safe.
    let sql = format!("CREATE DATABASE \"{name}\"");
    tokio::time::timeout(
        ADMIN_TIMEOUT,
        sqlx::query(AssertSqlSafe(sql)).execute(&mut conn),
    )
    .await
    .context("CREATE DATABASE timed out")?
    .with_context(|| format!("CREATE DATABASE {name}"))?;
    conn.close().await.ok();

    Ok(TestDb {
        url,
        name,
        admin_url,
    })
}

impl TestDb {
    /// Drops the database now, disconnecting any pool still using it.
    pub async fn drop_database(mut self) -> anyhow::Result<()> {
        let (admin_url, name) = self.take();
        drop_db(&admin_url, &name).await
    }

    fn take(&mut self) -> (String, String) {
        (
            std::mem::take(&mut self.admin_url),
            std::mem::take(&mut self.name),
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = self.take();
        if name.is_empty() {
            return;
        }
        // Drop can't await, and may run inside a (possibly single-threaded)
        // runtime: do the work on a thread with a runtime of its own.
        let worker = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if let Err(e) = rt.block_on(drop_db(&admin_url, &name)) {
                tracing::debug!("could not drop test database {name}: {e:#}");
            }
        });
        let _ = worker.join();
    }
}

async fn connect(admin_url: &str) -> anyhow::Result<PgConnection> {
    tokio::time::timeout(ADMIN_TIMEOUT, PgConnection::connect(admin_url))
        .await
        .context("connecting to TEST_DATABASE_URL timed out")?
        .with_context(|| format!("connecting to TEST_DATABASE_URL ({})", redact(admin_url)))
}

async fn drop_db(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = connect(admin_url).await?;
    // FORCE (Postgres 13+) ends sessions a test's pools left open.
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    tokio::time::timeout(
        ADMIN_TIMEOUT,
        sqlx::query(AssertSqlSafe(sql)).execute(&mut conn),
    )
    .await
    .context("DROP DATABASE timed out")??;
    conn.close().await.ok();
    Ok(())
}

/// The admin URL with its database path replaced by `name`; the query string
/// (sslmode=..., options) is kept.
fn database_url(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = Url::parse(admin_url)
        .with_context(|| format!("TEST_DATABASE_URL is not a URL: {}", redact(admin_url)))?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.into()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_database() {
        let url = database_url(
            "postgres://u:p@127.0.0.1:5433/postgres?sslmode=disable",
            "test_x",
        )
        .unwrap();
        assert_eq!(url, "postgres://u:p@127.0.0.1:5433/test_x?sslmode=disable");
        let url = database_url("postgresql://u@h", "test_y").unwrap();
        assert_eq!(url, "postgresql://u@h/test_y");
    }

    #[test]
    fn redacts_password() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }
}

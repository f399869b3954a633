//! A Postgres server of one test's own, for tests that restart it.
//!
//! Most tests share the run's server (see [`crate::postgres`]); restarting
//! that one would break every other test running beside it. This starts a
//! throwaway cluster (initdb, pg_ctl) from the Debian server binaries
//! `scripts/deps.sh` installs, on a free loopback port, as the `postgres`
//! user when the tests run as root (Postgres refuses to run as root).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::ports::free_port;

/// A running private server. Dropping the last handle stops the server and
/// removes its directory.
#[derive(Clone)]
pub struct PgServer {
    inner: Arc<Cluster>,
}

struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PgServer {
    /// initdb + start, with a superuser role `starshop` and a database
    /// `starshop`. fsync is off (the machine does not crash, only the server
    /// does), but commits are synchronous: a crash test must not lose what a
    /// commit acknowledged, or it would test a weaker Postgres than ours.
    pub async fn start() -> anyhow::Result<PgServer> {
        tokio::task::spawn_blocking(|| {
            let bin = bindir()?;
            let dir =
                std::env::temp_dir().join(format!("testkit-pg-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            let server = Cluster {
                bin,
                dir,
                port: free_port(),
            };
            server.chown()?;
            server.run(
                "initdb",
                &["-D", &server.data(), "-U", "postgres", "-A", "trust"],
                &["-E", "UTF8", "--no-locale", "--no-sync"],
            )?;
            server.pg_ctl_start()?;
            server.psql("CREATE ROLE starshop LOGIN SUPERUSER PASSWORD 'starshop'")?;
            server.psql("CREATE DATABASE starshop OWNER starshop")?;
            Ok(PgServer {
                inner: Arc::new(server),
            })
        })
        .await?
    }

    /// `postgres://starshop:starshop@127.0.0.1:<port>/starshop`
    pub fn url(&self) -> String {
        format!(
            "postgres://starshop:starshop@127.0.0.1:{}/starshop",
            self.inner.port
        )
    }

    /// Stops the server the way a crash does (`pg_ctl stop -m immediate`:
    /// no checkpoint, every connection cut) and starts it again on the same
    /// port, which then runs crash recovery. Returns once it accepts
    /// connections.
    pub async fn crash_and_restart(&self) -> anyhow::Result<()> {
        self.blocking(|me| {
            me.pg_ctl(&["stop", "-m", "immediate", "-w"])?;
            me.pg_ctl_start()
        })
        .await
    }

    /// Stops the server (immediate mode), leaving it down until
    /// [`PgServer::start_again`].
    pub async fn stop(&self) -> anyhow::Result<()> {
        self.blocking(|me| me.pg_ctl(&["stop", "-m", "immediate", "-w"]))
            .await
    }

    pub async fn start_again(&self) -> anyhow::Result<()> {
        self.blocking(Cluster::pg_ctl_start).await
    }

    async fn blocking(
        &self,
        f: impl FnOnce(&Cluster) -> anyhow::Result<()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner)).await?
    }
}

impl Cluster {
    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let opts = format!(
            "-h 127.0.0.1 -p {} -k {} -c fsync=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("postgres.log").display().to_string();
        self.pg_ctl(&["start", "-w", "-t", "60", "-l", &log, "-o", &opts])
    }

    fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let data = self.data();
        let mut all = vec!["-D", data.as_str()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all, &[])
    }

    fn psql(&self, sql: &str) -> anyhow::Result<()> {
        let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port);
        self.run(
            "psql",
            &["-q", "-X", "-v", "ON_ERROR_STOP=1", &url, "-c", sql],
            &[],
        )
    }

    /// Runs one of the server's tools, as `postgres` when we are root.
    fn run(&self, tool: &str, args: &[&str], more: &[&str]) -> anyhow::Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).args(more).current_dir(&self.dir);
        let out = cmd
            .output()
            .with_context(|| format!("run {}", exe.display()))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            bail!(
                "{tool} {args:?} failed ({}): {}{}\nserver log (last lines, newest first):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                tail.join("\n")
            );
        }
        Ok(())
    }

    fn chown(&self) -> anyhow::Result<()> {
        if !is_root() {
            return Ok(());
        }
        let status = Command::new("chown")
            .arg("postgres:")
            .arg(&self.dir)
            .status()
            .context("chown")?;
        if !status.success() {
            bail!("chown postgres {} failed", self.dir.display());
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w", "-t", "10"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `PG_BIN`, else the newest /usr/lib/postgresql/<version>/bin.
fn bindir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no /usr/lib/postgresql: run scripts/deps.sh")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .map(|(_, d)| d)
        .context("no PostgreSQL server binaries under /usr/lib/postgresql: run scripts/deps.sh")
}

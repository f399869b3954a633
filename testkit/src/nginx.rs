//! nginx in front of a test's gateway, from the repository's own template.
//!
//! Renders `nginx/nginx.conf.template` (the file docker compose and
//! `scripts/up.sh` use) into a private temp prefix with free loopback ports,
//! makes a self-signed certificate there with `ssl/generate-ssl.sh`, and runs
//! nginx in the foreground in its own process group, so dropping the handle
//! kills the master and its workers together.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep};

use crate::ports::free_port;
use crate::repo_root;

/// How long nginx may take to accept connections on both ports.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Fresh ports to try when the chosen ones were taken before nginx bound them.
const PORT_ATTEMPTS: usize = 5;
/// How long `stop()` waits for a graceful exit before killing.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What to put in front of the gateway.
#[derive(Debug, Clone)]
pub struct NginxOptions {
    /// The Telegram webhook path (the gateway's `WEBHOOK_PATH`), e.g. `/webhook`.
    pub webhook_path: String,
    /// Addresses/CIDRs whose `X-Forwarded-For` nginx believes (`set_real_ip_from`).
    /// Empty: trust nobody, the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// `proxy_read_timeout`: how long nginx waits for the gateway.
    pub read_timeout: Duration,
    /// The admin API behind `/admin/api/`; none: those paths answer 502.
    pub admin: Option<SocketAddr>,
}

impl NginxOptions {
    /// Trusts loopback as a proxy, so a test can play a client behind a load
    /// balancer (e.g. Heleket's IP) by sending `X-Forwarded-For` from 127.0.0.1.
    pub fn new(webhook_path: &str) -> NginxOptions {
        NginxOptions {
            webhook_path: webhook_path.to_owned(),
            trusted_proxies: vec!["127.0.0.1/32".to_owned()],
            read_timeout: Duration::from_secs(30),
            admin: None,
        }
    }

    pub fn with_read_timeout(mut self, t: Duration) -> NginxOptions {
        self.read_timeout = t;
        self
    }

    pub fn with_admin(mut self, admin: SocketAddr) -> NginxOptions {
        self.admin = Some(admin);
        self
    }

    /// Trusts no proxy: `X-Forwarded-For` from any client is ignored.
    pub fn trusting_nobody(mut self) -> NginxOptions {
        self.trusted_proxies.clear();
        self
    }
}

/// A running nginx. Dropping it kills nginx and removes its prefix directory.
pub struct Nginx {
    child: Option<Child>,
    http_port: u16,
    https_port: u16,
    // Declared last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx proxying to `gateway`, trusting 127.0.0.1 as a proxy
    /// (see [`NginxOptions::new`]).
    pub async fn start(gateway: SocketAddr, webhook_path: &str) -> anyhow::Result<Nginx> {
        Nginx::start_with(gateway, NginxOptions::new(webhook_path)).await
    }

    pub async fn start_with(gateway: SocketAddr, opts: NginxOptions) -> anyhow::Result<Nginx> {
        if !opts.webhook_path.starts_with('/') {
            bail!("webhook path must start with '/': {:?}", opts.webhook_path);
        }
        let dir = tempfile::Builder::new()
            .prefix("starshop-nginx-")
            .tempdir()
            .context("creating nginx prefix dir")?;
        // Run as root, nginx's workers become `nobody` and must reach the prefix
        // (TempDir makes it 0700).
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::create_dir_all(dir.path().join("logs"))?;
        generate_cert(dir.path()).await?;

        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let http_port = free_port();
            let mut https_port = free_port();
            while https_port == http_port {
                https_port = free_port();
            }
            let conf = render(dir.path(), gateway, http_port, https_port, &opts)?;
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf)?;
            let mut child = spawn(dir.path(), &conf_path)?;
            match wait_ready(&mut child, http_port, https_port).await {
                Ok(()) => {
                    return Ok(Nginx {
                        child: Some(child),
                        http_port,
                        https_port,
                        dir,
                    });
                }
                Err(e) => {
                    kill_group(&mut child);
                    let _ = child.wait().await;
                    let log = read_logs(dir.path());
                    if log.contains("Address already in use") {
                        last_error = Some(e);
                        continue;
                    }
                    return Err(e.context(format!("nginx failed to start; its log:\n{log}")));
                }
            }
        }
        Err(last_error
            .unwrap_or_else(|| anyhow::anyhow!("no attempt made"))
            .context("nginx could not bind free ports"))
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `https://127.0.0.1:PORT`; the certificate is [`Nginx::cert_path`]
    /// (SAN: localhost, 127.0.0.1).
    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.https_port)
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// The self-signed certificate nginx serves, for clients to trust.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The prefix directory (config, certificate, `logs/`).
    pub fn prefix(&self) -> &Path {
        self.dir.path()
    }

    /// The error log and stderr so far, for assertion messages.
    pub fn logs(&self) -> String {
        read_logs(self.dir.path())
    }

    /// Stops nginx gracefully (fast shutdown), killing it if it lingers.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            // SIGTERM: nginx's fast shutdown; the master stops its workers.
            // SAFETY: kill(2) with a pid we spawned and own; no memory involved.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        let exited = tokio::time::timeout(STOP_TIMEOUT, child.wait()).await;
        // Whatever the master did, make sure no worker outlives it.
        kill_group(&mut child);
        if exited.is_err() {
            let _ = child.wait().await;
        }
        Ok(())
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
            // kill_on_drop and tokio's orphan reaper take care of the zombie.
        }
    }
}

/// SIGKILL to nginx's process group: the master and all its workers (killing
/// only the master would leave workers serving the ports).
fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on the process group we created for this child.
        unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
    }
    let _ = child.start_kill();
}

fn nginx_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("NGINX_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let debian = Path::new("/usr/sbin/nginx");
    if debian.exists() {
        return debian.to_path_buf();
    }
    PathBuf::from("nginx")
}

async fn generate_cert(dir: &Path) -> anyhow::Result<()> {
    let script = repo_root().join("ssl/generate-ssl.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The template with every `${NGX_*}` placeholder filled in.
fn render(
    prefix: &Path,
    gateway: SocketAddr,
    http_port: u16,
    https_port: u16,
    opts: &NginxOptions,
) -> anyhow::Result<String> {
    let template_path = repo_root().join("nginx/nginx.conf.template");
    let mut text = std::fs::read_to_string(&template_path)
        .with_context(|| format!("reading {}", template_path.display()))?;
    let prefix_s = prefix.display().to_string();
    let real_ip_from: String = opts
        .trusted_proxies
        .iter()
        .map(|p| format!("set_real_ip_from {p}; "))
        .collect();
    let values = [
        ("NGX_HTTP_PORT", format!("127.0.0.1:{http_port}")),
        ("NGX_HTTPS_PORT", format!("127.0.0.1:{https_port}")),
        ("NGX_GATEWAY", gateway.to_string()),
        // Port 9 (discard) is closed on loopback: without an admin API its
        // paths get nginx's 502.
        (
            "NGX_ADMIN",
            opts.admin
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 9)))
                .to_string(),
        ),
        ("NGX_CERT", format!("{prefix_s}/cert.pem")),
        ("NGX_KEY", format!("{prefix_s}/key.pem")),
        ("NGX_PREFIX", prefix_s.clone()),
        ("NGX_LOG_DIR", format!("{prefix_s}/logs")),
        ("NGX_WEBHOOK_PATH", opts.webhook_path.clone()),
        // One worker is plenty for a test and spares the 2 cores.
        ("NGX_WORKER_PROCESSES", "1".to_owned()),
        ("NGX_REAL_IP_FROM", real_ip_from),
        (
            "NGX_PROXY_READ_TIMEOUT",
            format!("{}ms", opts.read_timeout.as_millis()),
        ),
    ];
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), &value);
    }
    if let Some(pos) = text.find("${NGX_") {
        let rest: String = text[pos..].chars().take(40).collect();
        bail!("unfilled placeholder in nginx template: {rest}");
    }
    Ok(text)
}

fn spawn(prefix: &Path, conf: &Path) -> anyhow::Result<Child> {
    let stderr = std::fs::File::create(prefix.join("logs/stderr.log"))?;
    let bin = nginx_bin();
    Command::new(&bin)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(conf)
        // Errors before the config is read would otherwise go to /var/log/nginx.
        .arg("-e")
        .arg(prefix.join("logs/error.log"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "spawning {} (install nginx with scripts/deps.sh, or set NGINX_BIN)",
                bin.display()
            )
        })
}

async fn wait_ready(child: &mut Child, http_port: u16, https_port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("nginx exited with {status}");
        }
        let http = TcpStream::connect(("127.0.0.1", http_port)).await.is_ok();
        let https = TcpStream::connect(("127.0.0.1", https_port)).await.is_ok();
        if http && https {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "nginx did not accept on ports {http_port}/{https_port} within {READY_TIMEOUT:?}"
            );
        }
        sleep(Duration::from_millis(25)).await;
    }
}

fn read_logs(prefix: &Path) -> String {
    ["logs/error.log", "logs/stderr.log"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(prefix.join(f)).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

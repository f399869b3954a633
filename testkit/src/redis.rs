//! A Redis master and two replicas on free ports, private to one test.
//!
//! Each node runs the repository's `redis/master.conf` or `redis/replica.conf`
//! (so tests exercise the configuration that ships), with port, data directory,
//! pid file and log file overridden on the command line, exactly as
//! `scripts/infra.sh` does. Tests stop and restart nodes, which is why every
//! test gets its own trio instead of sharing one.
//!
//! The harness talks to Redis with a few lines of raw RESP rather than a client
//! library: it only needs PING/INFO/AUTH, and a client with reconnect logic
//! would blur exactly the failures the tests provoke.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep, timeout};

use crate::ports::free_port;

/// How long a node may take to answer PING, or a replica to link to its master.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds every raw command so a wedged node fails the poll instead of hanging it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// How often to try a fresh port when the chosen one was taken before Redis bound it.
const PORT_ATTEMPTS: usize = 5;
const LOOPBACK: &str = "127.0.0.1";

/// The name the Sentinels monitor the master under (redis/sentinel.conf).
pub const SENTINEL_MASTER: &str = "starshop";

/// A running master + two replicas, optionally watched by three Sentinels.
/// Dropping it kills the servers and removes their data directory.
pub struct RedisTrio {
    bin: PathBuf,
    root: PathBuf,
    password: Option<String>,
    master: Node,
    replicas: [Node; 2],
    sentinels: Vec<Node>,
}

struct Node {
    name: &'static str,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn new(name: &'static str, root: &Path) -> Node {
        Node {
            name,
            port: free_port(),
            dir: root.join(name),
            child: None,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// The end of the node's log, for error messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            // SIGKILL, like a crash: tests check what survives one.
            child
                .kill()
                .await
                .with_context(|| format!("kill redis {}", self.name))?;
        }
        Ok(())
    }
}

/// Why one launch attempt failed.
enum LaunchError {
    /// Someone else bound the port between `free_port()` and Redis starting.
    PortTaken,
    Other(anyhow::Error),
}

impl RedisTrio {
    /// Starts a trio without authentication.
    pub async fn start() -> anyhow::Result<RedisTrio> {
        Self::launch(None).await
    }

    /// Starts a trio where every node requires `password` (`requirepass`) and
    /// replicas authenticate to the master with it (`masterauth`), as in
    /// production when `REDIS_PASSWORD` is set.
    pub async fn start_with_password(password: &str) -> anyhow::Result<RedisTrio> {
        Self::launch(Some(password.to_string())).await
    }

    /// Starts a trio and three Sentinels watching it (the shipped
    /// `redis/sentinel.conf`), and waits until every Sentinel knows both
    /// replicas and the other two Sentinels, so a failover can be agreed.
    pub async fn start_with_sentinels(password: Option<&str>) -> anyhow::Result<RedisTrio> {
        let mut trio = Self::launch(password.map(str::to_string)).await?;
        for name in ["sentinel1", "sentinel2", "sentinel3"] {
            let mut node = Node::new(name, &trio.root);
            std::fs::create_dir_all(&node.dir)
                .with_context(|| format!("create {}", node.dir.display()))?;
            let spec = Spec {
                bin: &trio.bin,
                password: trio.password.as_deref(),
                conf: "sentinel.conf",
                replica_of: Some(trio.master.port),
            };
            spawn_node(&spec, &mut node, true).await?;
            trio.sentinels.push(node);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for s in &trio.sentinels {
            loop {
                let info = trio.command(s.port, &["INFO", "sentinel"]).await;
                if let Ok(info) = &info
                    && info.contains("slaves=2,sentinels=3")
                {
                    break;
                }
                if Instant::now() >= deadline {
                    bail!(
                        "redis {} never saw 2 replicas and 3 sentinels: {info:?}\nlog:\n{}",
                        s.name,
                        s.log_tail()
                    );
                }
                sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(trio)
    }

    pub fn sentinel_ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(|s| s.port).collect()
    }

    /// Waits (up to 30 s) until every Sentinel names one of the replicas as
    /// master, and returns its port. Sentinels learn a failover from the one
    /// that led it a moment apart, so a single answer right after it may
    /// still name the old master.
    pub async fn wait_promoted(&self) -> anyhow::Result<u16> {
        let replicas = self.replica_ports();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut named = Vec::new();
            for s in &self.sentinels {
                let info = self.command(s.port, &["INFO", "sentinel"]).await?;
                let port = info
                    .split(',')
                    .find_map(|f| f.strip_prefix("address="))
                    .and_then(|a| a.rsplit_once(':'))
                    .and_then(|(_, p)| p.trim().parse::<u16>().ok());
                named.push(port);
            }
            if let Some(Some(first)) = named.first()
                && replicas.contains(first)
                && named.iter().all(|p| *p == Some(*first))
            {
                return Ok(*first);
            }
            if Instant::now() >= deadline {
                bail!("the Sentinels never agreed on a promoted replica: {named:?}");
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    async fn launch(password: Option<String>) -> anyhow::Result<RedisTrio> {
        let bin = redis_server_bin()?;
        let root =
            std::env::temp_dir().join(format!("testkit-redis-{}", uuid::Uuid::new_v4().simple()));
        let mut trio = RedisTrio {
            bin,
            master: Node::new("master", &root),
            replicas: [Node::new("replica1", &root), Node::new("replica2", &root)],
            sentinels: Vec::new(),
            root,
            password,
        };
        for node in trio.nodes() {
            std::fs::create_dir_all(&node.dir)
                .with_context(|| format!("create {}", node.dir.display()))?;
        }

        // The master first: replicas are started with its (final) port.
        trio.spawn_master(true).await?;
        for i in 0..2 {
            trio.spawn_replica(i, true).await?;
        }
        for i in 0..2 {
            trio.wait_linked(i).await?;
        }
        Ok(trio)
    }

    pub fn master_port(&self) -> u16 {
        self.master.port
    }

    pub fn replica_ports(&self) -> [u16; 2] {
        [self.replicas[0].port, self.replicas[1].port]
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Kills the master (SIGKILL, like a crash) and waits until it is gone.
    pub async fn stop_master(&mut self) -> anyhow::Result<()> {
        self.master.kill().await
    }

    /// Restarts the master on the same port (clients and replicas keep its
    /// address) and waits until both running replicas have re-linked to it.
    pub async fn start_master(&mut self) -> anyhow::Result<()> {
        if self.master.child.is_some() {
            bail!("redis master is already running");
        }
        self.spawn_master(false).await?;
        for i in 0..2 {
            if self.replicas[i].child.is_some() {
                self.wait_linked(i).await?;
            }
        }
        Ok(())
    }

    /// Kills replica `i` (0 or 1) and waits until it is gone.
    pub async fn stop_replica(&mut self, i: usize) -> anyhow::Result<()> {
        self.replica_mut(i)?.kill().await
    }

    /// Restarts replica `i` on the same port and, when the master is running,
    /// waits until it has synced from it again.
    pub async fn start_replica(&mut self, i: usize) -> anyhow::Result<()> {
        if self.replica_mut(i)?.child.is_some() {
            bail!("redis replica{} is already running", i + 1);
        }
        self.spawn_replica(i, false).await?;
        if self.master.child.is_some() {
            self.wait_linked(i).await?;
        }
        Ok(())
    }

    /// The variables a service reads to find this trio (the seed's names).
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("REDIS_MASTER_HOST".to_string(), LOOPBACK.to_string()),
            (
                "REDIS_MASTER_PORT".to_string(),
                self.master.port.to_string(),
            ),
        ];
        for (i, node) in self.replicas.iter().enumerate() {
            let n = i + 1;
            pairs.push((format!("REDIS_SLAVE{n}_HOST"), LOOPBACK.to_string()));
            pairs.push((format!("REDIS_SLAVE{n}_PORT"), node.port.to_string()));
        }
        if let Some(pw) = &self.password {
            pairs.push(("REDIS_PASSWORD".to_string(), pw.clone()));
        }
        if !self.sentinels.is_empty() {
            let list: Vec<String> = self
                .sentinels
                .iter()
                .map(|s| format!("{LOOPBACK}:{}", s.port))
                .collect();
            pairs.push(("REDIS_SENTINELS".to_string(), list.join(",")));
            pairs.push((
                "REDIS_SENTINEL_MASTER".to_string(),
                SENTINEL_MASTER.to_string(),
            ));
        }
        pairs
    }

    /// Freezes replica `i` (SIGSTOP): it keeps its connections open and
    /// answers nothing, like a node that hangs rather than dies.
    pub fn pause_replica(&self, i: usize) -> anyhow::Result<()> {
        self.signal_replica(i, "STOP")
    }

    /// Lets a frozen replica go on (SIGCONT).
    pub fn resume_replica(&self, i: usize) -> anyhow::Result<()> {
        self.signal_replica(i, "CONT")
    }

    /// Freezes the master (SIGSTOP): its sockets stay open and nothing is
    /// answered, as with a hung process or a host that vanished without
    /// resetting connections.
    pub fn pause_master(&self) -> anyhow::Result<()> {
        signal(&self.master, "STOP")
    }

    pub fn resume_master(&self) -> anyhow::Result<()> {
        signal(&self.master, "CONT")
    }

    fn signal_replica(&self, i: usize, signal_name: &str) -> anyhow::Result<()> {
        let node = self
            .replicas
            .get(i)
            .ok_or_else(|| anyhow!("replica index {i} out of range (0 or 1)"))?;
        signal(node, signal_name)
    }

    /// Runs one command on the node listening on `port` (authenticating when the
    /// trio has a password) and returns a simple, bulk or integer reply as text
    /// (nil as ""). For test set-up such as `SCRIPT FLUSH` or `INFO replication`.
    pub async fn command(&self, port: u16, args: &[&str]) -> anyhow::Result<String> {
        raw_command(port, self.password.as_deref(), args).await
    }

    fn nodes(&self) -> impl Iterator<Item = &Node> {
        std::iter::once(&self.master).chain(self.replicas.iter())
    }

    fn replica_mut(&mut self, i: usize) -> anyhow::Result<&mut Node> {
        self.replicas
            .get_mut(i)
            .ok_or_else(|| anyhow!("replica index {i} out of range (0 or 1)"))
    }

    async fn spawn_master(&mut self, may_move: bool) -> anyhow::Result<()> {
        let spec = Spec {
            bin: &self.bin,
            password: self.password.as_deref(),
            conf: "master.conf",
            replica_of: None,
        };
        spawn_node(&spec, &mut self.master, may_move).await
    }

    async fn spawn_replica(&mut self, i: usize, may_move: bool) -> anyhow::Result<()> {
        let spec = Spec {
            bin: &self.bin,
            password: self.password.as_deref(),
            conf: "replica.conf",
            replica_of: Some(self.master.port),
        };
        spawn_node(&spec, &mut self.replicas[i], may_move).await
    }

    /// Polls replica `i` until it reports `master_link_status:up`.
    async fn wait_linked(&self, i: usize) -> anyhow::Result<()> {
        let node = &self.replicas[i];
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match self.command(node.port, &["INFO", "replication"]).await {
                Ok(info) if info.lines().any(|l| l.trim() == "master_link_status:up") => {
                    return Ok(());
                }
                Ok(info) => info,
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                bail!(
                    "redis {} did not link to the master on port {} within {:?}; last answer: {last}\nlog:\n{}",
                    node.name,
                    self.master.port,
                    READY_TIMEOUT,
                    node.log_tail()
                );
            }
            sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RedisTrio {
    fn drop(&mut self) {
        let mut children: Vec<Child> = std::iter::once(&mut self.master)
            .chain(self.replicas.iter_mut())
            .chain(self.sentinels.iter_mut())
            .filter_map(|n| n.child.take())
            .collect();
        for child in &mut children {
            let _ = child.start_kill();
        }
        // Wait briefly for the processes to exit so they do not write into the
        // directory while it is being removed; Drop cannot await.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        for child in &mut children {
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Sends `signal` (STOP, CONT) to a running node.
fn signal(node: &Node, signal: &str) -> anyhow::Result<()> {
    let pid = node
        .child
        .as_ref()
        .and_then(Child::id)
        .ok_or_else(|| anyhow!("redis {} is not running", node.name))?;
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .context("run kill")?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed: {status}");
    }
    Ok(())
}

/// What distinguishes one node's command line from another's.
struct Spec<'a> {
    bin: &'a Path,
    password: Option<&'a str>,
    conf: &'static str,
    replica_of: Option<u16>,
}

/// Starts `node` and waits until it answers PING. When the port was taken in
/// the meantime, retries on a fresh port if `may_move`, else (a restart, whose
/// address clients already know) on the same port after a pause.
async fn spawn_node(spec: &Spec<'_>, node: &mut Node, may_move: bool) -> anyhow::Result<()> {
    for _ in 1..PORT_ATTEMPTS {
        match spawn_once(spec, node).await {
            Ok(child) => {
                node.child = Some(child);
                return Ok(());
            }
            Err(LaunchError::PortTaken) if may_move => node.port = free_port(),
            Err(LaunchError::PortTaken) => sleep(Duration::from_millis(200)).await,
            Err(LaunchError::Other(e)) => return Err(e),
        }
    }
    match spawn_once(spec, node).await {
        Ok(child) => {
            node.child = Some(child);
            Ok(())
        }
        Err(LaunchError::PortTaken) => bail!(
            "redis {}: port {} stayed taken after {PORT_ATTEMPTS} attempts",
            node.name,
            node.port
        ),
        Err(LaunchError::Other(e)) => Err(e),
    }
}

async fn spawn_once(spec: &Spec<'_>, node: &Node) -> Result<Child, LaunchError> {
    let conf = node_config(spec, node).map_err(LaunchError::Other)?;
    // A fresh log per attempt, so "address in use" from an earlier attempt is
    // not mistaken for this one's failure.
    let _ = std::fs::remove_file(node.log_path());

    let sentinel = spec.conf == "sentinel.conf";
    let mut cmd = Command::new(spec.bin);
    cmd.arg(&conf);
    if sentinel {
        cmd.arg("--sentinel");
    }
    cmd.arg("--port")
        .arg(node.port.to_string())
        .arg("--dir")
        .arg(&node.dir)
        .arg("--pidfile")
        .arg(node.dir.join("redis.pid"))
        .arg("--logfile")
        .arg(node.log_path());
    if let Some(master_port) = spec.replica_of
        && !sentinel
    {
        cmd.arg("--replicaof")
            .arg(LOOPBACK)
            .arg(master_port.to_string());
    }
    if let Some(pw) = spec.password
        && !sentinel
    {
        cmd.arg("--requirepass").arg(pw).arg("--masterauth").arg(pw);
    }
    // Config errors are printed to stderr before the log file is opened.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);

    let mut child = cmd
        .spawn()
        .with_context(|| format!("spawn {} {}", spec.bin.display(), conf.display()))
        .map_err(LaunchError::Other)?;
    let pid = child.id().map(|p| p.to_string());

    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr).await;
                }
                let log = node.log_tail();
                if log.contains("Address already in use")
                    || stderr.contains("Address already in use")
                {
                    return Err(LaunchError::PortTaken);
                }
                return Err(LaunchError::Other(anyhow!(
                    "redis {} exited with {status} on port {}\nstderr: {stderr}\nlog:\n{log}",
                    node.name,
                    node.port
                )));
            }
            Ok(None) => {}
            Err(e) => return Err(LaunchError::Other(e.into())),
        }
        // Checking the pid tells our server apart from another test's server
        // that grabbed the port first (ours then exits with "address in use").
        if let Ok(info) = raw_command(node.port, spec.password, &["INFO", "server"]).await
            && info_field(&info, "process_id") == pid.as_deref()
        {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill().await;
            return Err(LaunchError::Other(anyhow!(
                "redis {} did not answer on port {} within {READY_TIMEOUT:?}\nlog:\n{}",
                node.name,
                node.port,
                node.log_tail()
            )));
        }
        sleep(Duration::from_millis(25)).await;
    }
}

/// A private copy of the shipped config in the node's directory: after a
/// failover the Sentinels run CONFIG REWRITE on the nodes they repoint (and
/// rewrite their own file), which must never touch the repository. A
/// Sentinel's copy monitors the given master and carries the password.
fn node_config(spec: &Spec<'_>, node: &Node) -> anyhow::Result<PathBuf> {
    let shipped = crate::repo_root().join("redis").join(spec.conf);
    let mut text =
        std::fs::read_to_string(&shipped).with_context(|| format!("read {}", shipped.display()))?;
    if spec.conf == "sentinel.conf" {
        let master_port = spec
            .replica_of
            .context("a sentinel needs the master's port")?;
        let monitor = format!("sentinel monitor {SENTINEL_MASTER} redis-master 6379 2");
        if !text.contains(&monitor) {
            bail!("{} has no line {monitor:?}", shipped.display());
        }
        text = text.replace(
            &monitor,
            &format!("sentinel monitor {SENTINEL_MASTER} {LOOPBACK} {master_port} 2"),
        );
        text = text.replace("bind 0.0.0.0", &format!("bind {LOOPBACK}"));
        if let Some(pw) = spec.password {
            text.push_str(&format!(
                "\nrequirepass {pw}\nsentinel auth-pass {SENTINEL_MASTER} {pw}\n"
            ));
        }
    }
    let path = node.dir.join(spec.conf);
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}

fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
}

/// `REDIS_SERVER_BIN`, else `redis-server` on PATH.
fn redis_server_bin() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("REDIS_SERVER_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Ok(bin);
        }
        bail!(
            "REDIS_SERVER_BIN={} is not a file; redis-server not found; run scripts/deps.sh",
            bin.display()
        );
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("redis-server not found; run scripts/deps.sh"))
}

/// One command over a fresh connection, bounded by [`COMMAND_TIMEOUT`].
async fn raw_command(port: u16, password: Option<&str>, args: &[&str]) -> anyhow::Result<String> {
    timeout(COMMAND_TIMEOUT, async {
        let stream = TcpStream::connect((LOOPBACK, port)).await?;
        let mut conn = BufReader::new(stream);
        if let Some(pw) = password {
            send(&mut conn, &["AUTH", pw]).await?;
            read_reply(&mut conn).await.context("AUTH")?;
        }
        send(&mut conn, args).await?;
        read_reply(&mut conn).await
    })
    .await
    .map_err(|_| anyhow!("redis on port {port}: no answer within {COMMAND_TIMEOUT:?}"))?
}

async fn send(conn: &mut BufReader<TcpStream>, args: &[&str]) -> anyhow::Result<()> {
    let mut buf = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    conn.get_mut().write_all(&buf).await?;
    Ok(())
}

async fn read_reply(conn: &mut BufReader<TcpStream>) -> anyhow::Result<String> {
    let mut line = String::new();
    if conn.read_line(&mut line).await? == 0 {
        bail!("connection closed");
    }
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" | ":" => Ok(rest.to_string()),
        "-" => bail!("redis error: {rest}"),
        "$" => {
            let len: i64 = rest.parse().context("bulk length")?;
            if len < 0 {
                return Ok(String::new());
            }
            let mut data = vec![0u8; len as usize + 2];
            conn.read_exact(&mut data).await?;
            data.truncate(len as usize);
            Ok(String::from_utf8_lossy(&data).into_owned())
        }
        _ => bail!("unsupported reply {line:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_is_replaced_by_a_fresh_one() {
        let taken = std::net::TcpListener::bind((LOOPBACK, 0)).unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let root = std::env::temp_dir().join(format!(
            "testkit-redis-port-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut node = Node::new("master", &root);
        node.port = taken_port;
        std::fs::create_dir_all(&node.dir).unwrap();
        let bin = redis_server_bin().unwrap();
        let spec = Spec {
            bin: &bin,
            password: None,
            conf: "master.conf",
            replica_of: None,
        };

        spawn_node(&spec, &mut node, true).await.unwrap();
        assert_ne!(node.port, taken_port);
        assert_eq!(
            raw_command(node.port, None, &["PING"]).await.unwrap(),
            "PONG"
        );

        node.kill().await.unwrap();
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn info_fields_are_found_by_name() {
        let info = "# Server\r\nredis_version:7.0.15\r\nprocess_id:42\r\n";
        assert_eq!(info_field(info, "process_id"), Some("42"));
        assert_eq!(info_field(info, "process"), None);
    }
}

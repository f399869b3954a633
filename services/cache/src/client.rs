//! Connections to the master and the replicas, and the plain key/value calls.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fred::clients::{Pool, WithOptions};
use fred::interfaces::{ClientLike, KeysInterface};
use fred::prelude::{
    Builder, Config, Expiration, FromValue, Options, ReconnectPolicy, ServerConfig,
};
use fred::types::config::{ReconnectError, Server, UnresponsiveConfig};
use fred::types::{ClusterHash, ConnectHandle, CustomCommand, Value};
use secrecy::ExposeSecret;
use tokio::time::{Instant, sleep};

use crate::config::{Master, NodeAddr, RedisConfig};
use crate::error::CacheError;

/// Reconnect backoff: 10 ms doubling to 2 s, forever, plus up to 20 ms of
/// jitter. The first retry is quick on purpose: fred keeps reporting the
/// client as connected until that first attempt, so commands sent in between
/// queue (and wait out the socket timeout) instead of failing fast. Later
/// attempts back off so a long outage costs one connect a second, and a
/// restarted (or newly promoted) Redis is used again within about a second.
const RECONNECT_MIN_MS: u32 = 10;
const RECONNECT_JITTER_MS: u32 = 20;
const RECONNECT_MAX_MS: u32 = 1_000;

/// How long a replica that failed a read is left out of cached reads.
const REPLICA_BENCH: Duration = Duration::from_secs(5);
/// The most a cached read waits for a replica (never more than the socket
/// timeout): the master answers when it does not, so a frozen replica costs
/// concurrent reads this much, not a whole socket timeout each.
const REPLICA_READ_TIMEOUT: Duration = Duration::from_millis(300);
/// Command timeouts this close together on one node mean it no longer
/// answers on its sockets: reconnect (through the Sentinels, for the
/// master). fred closes a connection only when the socket fails, and a
/// frozen process or a host gone without a reset keeps it open: every
/// command would time out for as long as TCP retransmits (~15 min), though
/// the Sentinels promoted a replica within seconds.
const TIMEOUTS_BEFORE_RECONNECT: u32 = 3;
const TIMEOUT_WINDOW: Duration = Duration::from_secs(10);
/// At most one forced reconnect per node in this long.
const RECONNECT_EVERY: Duration = Duration::from_secs(2);

/// One Redis node: a fred pool plus the name used in errors and health.
pub(crate) struct Node {
    /// "master" or "replica".
    pub(crate) role: &'static str,
    pub(crate) addr: String,
    /// "master 10.0.0.5:6379", "replica2 10.0.0.7:6379": what errors name.
    pub(crate) label: String,
    /// Found through the Sentinels rather than at a fixed address.
    pub(crate) via_sentinel: bool,
    pool: Pool,
    options: Options,
    tasks: Vec<ConnectHandle>,
    /// (first timeout of the current window, timeouts in it, last forced
    /// reconnect): see [`TIMEOUTS_BEFORE_RECONNECT`].
    timeouts: std::sync::Mutex<(Instant, u32, Option<Instant>)>,
}

impl Node {
    fn connect(
        role: &'static str,
        name: &str,
        server: ServerConfig,
        addr: String,
        cfg: &RedisConfig,
    ) -> Result<Node, CacheError> {
        let label = format!("{name} {addr}");
        let via_sentinel = matches!(server, ServerConfig::Sentinel { .. });
        let timeout = if role == "replica" {
            cfg.socket_timeout.min(REPLICA_READ_TIMEOUT)
        } else {
            cfg.socket_timeout
        };
        let config = Config {
            // false: a node that is down at start-up is retried in the
            // background under the reconnect policy instead of failing
            // `connect` (services start before Redis and say so in /health).
            fail_fast: false,
            // Also sent to the Sentinels, which therefore share the trio's
            // `requirepass` (scripts/infra.sh and compose set it so).
            password: cfg.password.as_ref().map(|p| p.expose_secret().to_string()),
            server,
            ..Config::default()
        };
        let pool = Builder::from_config(config)
            .with_performance_config(|perf| {
                perf.default_command_timeout = timeout;
            })
            .with_connection_config(|conn| {
                conn.connection_timeout = cfg.connect_timeout;
                conn.internal_command_timeout = timeout;
                // No "unresponsive connection" detection: in fred 10.1 the
                // replies to a connection's set-up commands (HELLO/AUTH/ROLE)
                // are read outside the router and never clear its
                // `last_write`, so every connection that then sits idle for
                // `max_timeout` is declared dead and reconnected, forever
                // (dozens of reconnects a second per node on an idle fleet,
                // each logged as a warning). A blackholed node is still
                // caught: each command is bounded by `timeout`, and TCP
                // keepalive below drops the dead socket so fail-fast applies.
                conn.unresponsive = UnresponsiveConfig::default();
                // A master demoted by the Sentinels answers writes with
                // READONLY: reconnect then (through the Sentinels, to the
                // promoted node) instead of failing every write until the
                // connection happens to drop.
                conn.reconnect_errors = vec![ReconnectError::ReadOnly, ReconnectError::Loading];
                conn.tcp.keepalive = Some(
                    socket2::TcpKeepalive::new()
                        .with_time(Duration::from_secs(10))
                        .with_interval(Duration::from_secs(5)),
                );
            })
            .set_policy(reconnect_policy())
            .build_pool(cfg.max_connections.max(1))
            .map_err(|e| CacheError::from_fred(&label, e))?;
        // Spawns one task per connection and returns at once; the tasks keep
        // (re)connecting for as long as the node exists.
        let tasks = pool.connect_pool();
        let options = Options {
            // Fail at once while the connection is down rather than queueing
            // until it comes back: callers answer 503 instead of hanging.
            // fred notices a dropped connection only at its first reconnect
            // attempt (RECONNECT_MIN_MS later); a command sent in that gap
            // waits out `timeout` instead, which is why it is set as well.
            fail_fast: true,
            timeout: Some(timeout),
            ..Options::default()
        };
        Ok(Node {
            role,
            via_sentinel,
            addr,
            label,
            pool,
            options,
            tasks,
            timeouts: std::sync::Mutex::new((Instant::now(), 0, None)),
        })
    }

    /// The pool with our per-command options (fail fast, timeout).
    pub(crate) fn client(&self) -> WithOptions<Pool> {
        self.pool.with_options(&self.options)
    }

    pub(crate) fn err(&self, e: fred::error::Error) -> CacheError {
        if *e.kind() == fred::error::ErrorKind::Timeout {
            self.timed_out();
        }
        CacheError::from_fred(&self.label, e)
    }

    /// Counts a command timeout; enough of them close together force a
    /// reconnect of the node's pool.
    fn timed_out(&self) {
        let now = Instant::now();
        let mut t = self.timeouts.lock().unwrap_or_else(|p| p.into_inner());
        if now.duration_since(t.0) > TIMEOUT_WINDOW {
            *t = (now, 0, t.2);
        }
        t.1 += 1;
        let recently =
            t.2.is_some_and(|at| now.duration_since(at) < RECONNECT_EVERY);
        if t.1 < TIMEOUTS_BEFORE_RECONNECT || recently {
            return;
        }
        *t = (now, 0, Some(now));
        drop(t);
        tracing::warn!(node = %self.label, "commands keep timing out; reconnecting");
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let _ = pool.force_reconnection().await;
        });
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.pool.clients().iter().any(|c| c.is_connected())
    }

    /// The address the pool is connected to right now: for a master found
    /// through the Sentinels, the node they last named.
    pub(crate) fn connected_addr(&self) -> Option<String> {
        self.pool
            .clients()
            .iter()
            .filter(|c| c.is_connected())
            .find_map(|c| c.active_connections().into_iter().next())
            .map(|s| format!("{}:{}", s.host, s.port))
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        self.client().get(key).await.map_err(|e| self.err(e))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // The connection tasks would otherwise keep reconnecting to a node
        // nobody uses any more (e.g. after a test dropped its Cache).
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn centralized(addr: &NodeAddr) -> ServerConfig {
    ServerConfig::new_centralized(addr.host.clone(), addr.port)
}

fn reconnect_policy() -> ReconnectPolicy {
    let mut policy = ReconnectPolicy::new_exponential(
        0, // unlimited attempts: Redis coming back must always be noticed
        RECONNECT_MIN_MS,
        RECONNECT_MAX_MS,
        2,
    );
    policy.set_jitter(RECONNECT_JITTER_MS);
    policy
}

/// A Lua script run with EVALSHA, falling back to EVAL when the server does
/// not know it (after a restart or SCRIPT FLUSH).
pub(crate) struct Script {
    source: &'static str,
    /// Learned from SCRIPT LOAD on first use; SHA1 of the source, so it never
    /// changes and is shared by all clones of the Cache.
    sha: OnceLock<String>,
}

impl Script {
    pub(crate) const fn new(source: &'static str) -> Script {
        Script {
            source,
            sha: OnceLock::new(),
        }
    }

    pub(crate) async fn run<R: FromValue>(
        &self,
        node: &Node,
        keys: &[&str],
        args: &[String],
    ) -> Result<R, CacheError> {
        let client = node.client();
        let sha = match self.sha.get() {
            Some(sha) => sha.clone(),
            None => {
                let sha: String = client
                    .custom(cmd("SCRIPT"), vec!["LOAD", self.source])
                    .await
                    .map_err(|e| node.err(e))?;
                self.sha.get_or_init(|| sha).clone()
            }
        };
        match client
            .custom(cmd("EVALSHA"), script_args(&sha, keys, args))
            .await
        {
            Err(e) if e.details().starts_with("NOSCRIPT") => {
                // EVAL runs it and puts it back into the server's script
                // cache, so the next EVALSHA finds it again.
                client
                    .custom(cmd("EVAL"), script_args(self.source, keys, args))
                    .await
                    .map_err(|e| node.err(e))
            }
            other => other.map_err(|e| node.err(e)),
        }
    }
}

/// A command fred has no typed method for on `WithOptions` (the Lua commands),
/// sent with `custom` so it still gets our fail-fast options.
fn cmd(name: &'static str) -> CustomCommand {
    CustomCommand::new_static(name, ClusterHash::FirstKey, false)
}

fn script_args(script_or_sha: &str, keys: &[&str], args: &[String]) -> Vec<Value> {
    let mut out = Vec::with_capacity(2 + keys.len() + args.len());
    out.push(Value::from(script_or_sha));
    out.push(Value::from(keys.len() as i64));
    out.extend(keys.iter().map(|k| Value::from(*k)));
    out.extend(args.iter().map(|a| Value::from(a.as_str())));
    out
}

pub(crate) struct Inner {
    pub(crate) master: Node,
    pub(crate) replicas: Vec<Node>,
    pub(crate) prefix: String,
    next_replica: AtomicUsize,
    /// Per replica: until when (ms after `epoch`) it is skipped because it
    /// just failed a read. A frozen node (SIGSTOP, a stalled VM) keeps its
    /// sockets open and answers nothing, so every read sent to it would wait
    /// out the socket timeout; benched, it costs one such wait per
    /// [`REPLICA_BENCH`].
    benched_until: Vec<AtomicU64>,
    epoch: Instant,
    pub(crate) rate_limit_script: Script,
    pub(crate) release_script: Script,
    pub(crate) claim_as_script: Script,
    pub(crate) take_over_script: Script,
    pub(crate) claim_update_script: Script,
    pub(crate) finish_update_script: Script,
}

/// The shared Redis layer: cheap to clone, safe to share between tasks.
///
/// One fred pool per node (the master and each replica) instead of fred's
/// built-in replica routing: fred discovers replicas through the master
/// connection and routes replica commands through the master's router, so
/// with the master down it can neither find nor use them, and the addresses
/// the master reports are the replicas' own view (container-internal in
/// docker compose). With a pool per configured address, reads that tolerate
/// staleness keep working from a replica while the master is down, and each
/// node's health is reported on its own.
///
/// Which node serves what (see the design notes): the master serves writes,
/// sessions, dedup claims, rate limits and [`Cache::get`]; the replicas serve
/// only [`Cache::get_cached`]. Every operation is bounded by the socket
/// timeout and fails at once with [`CacheError::Unavailable`] while its node
/// is disconnected.
#[derive(Clone)]
pub struct Cache {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("master", &self.inner.master.addr)
            .field(
                "replicas",
                &self
                    .inner
                    .replicas
                    .iter()
                    .map(|r| &r.addr)
                    .collect::<Vec<_>>(),
            )
            .field("prefix", &self.inner.prefix)
            .finish()
    }
}

impl Cache {
    /// Creates the pools and starts connecting in the background. Returns at
    /// once and does not fail when nodes are down: they are retried forever,
    /// and operations report [`CacheError::Unavailable`] until they are up.
    /// Must be called inside a Tokio runtime. Fails only on an invalid
    /// configuration.
    pub async fn connect(cfg: &RedisConfig) -> Result<Cache, CacheError> {
        let master_server = match &cfg.master {
            Master::Fixed(addr) => centralized(addr),
            Master::Sentinel { sentinels, name } => ServerConfig::Sentinel {
                hosts: sentinels
                    .iter()
                    .map(|s| Server::new(s.host.clone(), s.port))
                    .collect(),
                service_name: name.clone(),
            },
        };
        let master = Node::connect(
            "master",
            "master",
            master_server,
            cfg.master.to_string(),
            cfg,
        )?;
        let replicas = cfg
            .replicas
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                let name = format!("replica{}", i + 1);
                Node::connect("replica", &name, centralized(addr), addr.to_string(), cfg)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cache {
            inner: Arc::new(Inner {
                master,
                replicas,
                prefix: cfg.key_prefix.clone(),
                next_replica: AtomicUsize::new(0),
                benched_until: cfg.replicas.iter().map(|_| AtomicU64::new(0)).collect(),
                epoch: Instant::now(),
                rate_limit_script: Script::new(crate::ratelimit::GCRA_LUA),
                release_script: Script::new(crate::dedup::RELEASE_LUA),
                claim_as_script: Script::new(crate::dedup::CLAIM_AS_LUA),
                take_over_script: Script::new(crate::dedup::TAKE_OVER_LUA),
                claim_update_script: Script::new(crate::dedup::CLAIM_UPDATE_LUA),
                finish_update_script: Script::new(crate::dedup::FINISH_UPDATE_LUA),
            }),
        })
    }

    /// Waits up to `within` for the master connection, for start-up code and
    /// tests that want to begin only once Redis is reachable.
    pub async fn wait_connected(&self, within: Duration) -> Result<(), CacheError> {
        let deadline = Instant::now() + within;
        while !self.inner.master.is_connected() {
            if Instant::now() >= deadline {
                return Err(CacheError::Unavailable {
                    node: self.inner.master.label.clone(),
                    reason: format!("not connected after {within:?}"),
                });
            }
            sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// The prefixed key as stored in Redis.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    /// Sets `key` on the master with a time to live.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let m = &self.inner.master;
        m.client()
            .set::<(), _, _>(self.key(key), value, Some(px(ttl)), None, false)
            .await
            .map_err(|e| m.err(e))
    }

    /// Reads `key` from the master: sees the latest write.
    pub async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        self.inner.master.get(&self.key(key)).await
    }

    /// Deletes `key` on the master; true if it existed.
    pub async fn del(&self, key: &str) -> Result<bool, CacheError> {
        let m = &self.inner.master;
        let n: i64 = m.client().del(self.key(key)).await.map_err(|e| m.err(e))?;
        Ok(n > 0)
    }

    /// Caches a lookup: written to the master, read back by [`Cache::get_cached`].
    pub async fn set_cached(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.set(key, value, ttl).await
    }

    /// Reads a cached lookup that may be slightly stale: from the replicas in
    /// turn (round-robin; one that is down or slow is skipped, and left out
    /// for a few seconds), then from the master when no replica answers. A
    /// replica's `None` is an answer (the key may not have replicated yet,
    /// which a cached lookup tolerates).
    pub async fn get_cached(&self, key: &str) -> Result<Option<String>, CacheError> {
        let key = self.key(key);
        let inner = &self.inner;
        let replicas = &inner.replicas;
        let mut failures = Vec::new();
        if !replicas.is_empty() {
            let start = inner.next_replica.fetch_add(1, Ordering::Relaxed);
            let now = inner.epoch.elapsed().as_millis() as u64;
            for i in 0..replicas.len() {
                let n = (start + i) % replicas.len();
                if inner.benched_until[n].load(Ordering::Relaxed) > now {
                    continue;
                }
                let node = &replicas[n];
                match node.get(&key).await {
                    Ok(v) => return Ok(v),
                    Err(e) if e.is_unavailable() => {
                        tracing::debug!(error = %e, "replica read failed, trying the next node");
                        let until = inner.epoch.elapsed() + REPLICA_BENCH;
                        inner.benched_until[n].store(until.as_millis() as u64, Ordering::Relaxed);
                        failures.push(e.to_string());
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        match self.inner.master.get(&key).await {
            Err(CacheError::Unavailable { node, reason }) if !failures.is_empty() => {
                Err(CacheError::Unavailable {
                    node,
                    reason: format!(
                        "{reason}; and every replica failed: {}",
                        failures.join("; ")
                    ),
                })
            }
            other => other,
        }
    }
}

/// A TTL as PX milliseconds; at least 1 ms, since PX 0 is an error.
pub(crate) fn px(ttl: Duration) -> Expiration {
    Expiration::PX(ttl.as_millis().clamp(1, i64::MAX as u128) as i64)
}

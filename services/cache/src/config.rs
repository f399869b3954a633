//! Where Redis is and how to talk to it, from the seed's environment variables.

use std::fmt;
use std::time::Duration;

use runtime::config::{ConfigError, Env};
use secrecy::{ExposeSecret, SecretString};

pub const DEFAULT_PORT: u16 = 6379;
pub const DEFAULT_MAX_CONNECTIONS: usize = 10;
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_KEY_PREFIX: &str = "starshop:";
/// `REDIS_SENTINEL_MASTER` when unset: the name our scripts and compose give the master.
pub const DEFAULT_SENTINEL_MASTER: &str = "starshop";
/// Port of a Sentinel listed without one.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// A Redis node's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddr {
    pub host: String,
    pub port: u16,
}

impl NodeAddr {
    pub fn new(host: impl Into<String>, port: u16) -> NodeAddr {
        NodeAddr {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// How the master is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Master {
    /// `REDIS_MASTER_HOST`/`_PORT`: always this address (the seed's set-up).
    Fixed(NodeAddr),
    /// `REDIS_SENTINELS`: asked of the Sentinels at every (re)connect, so a
    /// replica they promote after the master is lost is used without a restart.
    Sentinel {
        sentinels: Vec<NodeAddr>,
        /// `REDIS_SENTINEL_MASTER`: the name the Sentinels monitor it under.
        name: String,
    },
}

impl fmt::Display for Master {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Master::Fixed(addr) => write!(f, "{addr}"),
            Master::Sentinel { sentinels, name } => {
                write!(f, "{name} via sentinels ")?;
                for (i, s) in sentinels.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{s}")?;
                }
                Ok(())
            }
        }
    }
}

/// Settings for [`Cache::connect`](crate::Cache::connect).
#[derive(Clone)]
pub struct RedisConfig {
    /// Takes every write and every read that must see the latest write.
    pub master: Master,
    /// Serve cached lookups; may be empty (then the master serves them).
    pub replicas: Vec<NodeAddr>,
    /// Sent as AUTH to every node (the trio shares one `requirepass`).
    pub password: Option<SecretString>,
    /// Connections per node. fred multiplexes commands on each connection, so a
    /// few go a long way; more only help with very high concurrency.
    pub max_connections: usize,
    /// Bounds every command, connection attempt and health PING, so a dead or
    /// wedged node turns into an error instead of a hang.
    pub socket_timeout: Duration,
    /// `REDIS_SOCKET_CONNECT_TIMEOUT`: establishing a connection (default: the socket timeout).
    pub connect_timeout: Duration,
    /// Put in front of every key, so several deployments or tests can share
    /// one Redis without seeing each other's keys.
    pub key_prefix: String,
}

impl PartialEq for RedisConfig {
    fn eq(&self, o: &Self) -> bool {
        let pw = |c: &RedisConfig| c.password.as_ref().map(|p| p.expose_secret().to_string());
        self.master == o.master
            && self.replicas == o.replicas
            && pw(self) == pw(o)
            && self.max_connections == o.max_connections
            && self.socket_timeout == o.socket_timeout
            && self.connect_timeout == o.connect_timeout
            && self.key_prefix == o.key_prefix
    }
}

// By hand, so the password never ends up in a log line.
impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("master", &self.master)
            .field("replicas", &self.replicas)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("max_connections", &self.max_connections)
            .field("socket_timeout", &self.socket_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl RedisConfig {
    /// A master-only configuration with the defaults; add replicas and the
    /// rest with the `with_*` methods (tests, tools).
    pub fn new(master_host: impl Into<String>, master_port: u16) -> RedisConfig {
        RedisConfig {
            master: Master::Fixed(NodeAddr::new(master_host, master_port)),
            replicas: Vec::new(),
            password: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            socket_timeout: DEFAULT_SOCKET_TIMEOUT,
            connect_timeout: DEFAULT_SOCKET_TIMEOUT,
            key_prefix: DEFAULT_KEY_PREFIX.to_string(),
        }
    }

    /// Finds the master through these Sentinels instead of a fixed address.
    pub fn with_sentinels(
        mut self,
        sentinels: Vec<NodeAddr>,
        name: impl Into<String>,
    ) -> RedisConfig {
        self.master = Master::Sentinel {
            sentinels,
            name: name.into(),
        };
        self
    }

    pub fn with_replica(mut self, host: impl Into<String>, port: u16) -> RedisConfig {
        self.replicas.push(NodeAddr::new(host, port));
        self
    }

    pub fn with_password(mut self, password: impl Into<String>) -> RedisConfig {
        self.password = Some(SecretString::from(password.into()));
        self
    }

    pub fn with_max_connections(mut self, n: usize) -> RedisConfig {
        self.max_connections = n.max(1);
        self
    }

    pub fn with_socket_timeout(mut self, timeout: Duration) -> RedisConfig {
        self.socket_timeout = timeout;
        self.connect_timeout = timeout;
        self
    }

    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> RedisConfig {
        self.key_prefix = prefix.into();
        self
    }

    /// Reads `REDIS_SENTINELS` (comma list of host[:port]) with
    /// `REDIS_SENTINEL_MASTER`, or else `REDIS_MASTER_HOST` (then required)
    /// and `REDIS_MASTER_PORT`; `REDIS_SLAVE{1,2}_HOST`/`_PORT`,
    /// `REDIS_PASSWORD`, `REDIS_MAX_CONNECTIONS`, `REDIS_SOCKET_TIMEOUT`
    /// (seconds) and `REDIS_KEY_PREFIX`. Errors name the variable at fault.
    pub fn from_env(env: &Env) -> Result<RedisConfig, ConfigError> {
        let master = match env.optional("REDIS_SENTINELS") {
            Some(list) => Master::Sentinel {
                sentinels: sentinels(&list)?,
                name: env.string_or("REDIS_SENTINEL_MASTER", DEFAULT_SENTINEL_MASTER),
            },
            None => Master::Fixed(NodeAddr::new(
                env.required("REDIS_MASTER_HOST")?,
                port(env, "REDIS_MASTER_PORT")?,
            )),
        };

        let mut replicas = Vec::new();
        for (host_var, port_var) in [
            ("REDIS_SLAVE1_HOST", "REDIS_SLAVE1_PORT"),
            ("REDIS_SLAVE2_HOST", "REDIS_SLAVE2_PORT"),
        ] {
            // A port without a host is ignored, as in the seed (an empty host
            // in `.env` means "no such replica").
            if let Some(host) = env.optional(host_var) {
                replicas.push(NodeAddr::new(host, port(env, port_var)?));
            }
        }

        let max_connections: usize =
            env.parse_or("REDIS_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS)?;
        if max_connections == 0 {
            return Err(ConfigError::malformed(
                "REDIS_MAX_CONNECTIONS",
                "0",
                "must be at least 1",
            ));
        }

        let socket_timeout = env.seconds_or("REDIS_SOCKET_TIMEOUT", DEFAULT_SOCKET_TIMEOUT)?;
        if socket_timeout.is_zero() {
            // Zero would mean "no timeout" to fred, the opposite of the intent.
            return Err(ConfigError::malformed(
                "REDIS_SOCKET_TIMEOUT",
                env.get("REDIS_SOCKET_TIMEOUT").unwrap_or_default(),
                "must be greater than 0",
            ));
        }

        Ok(RedisConfig {
            master,
            replicas,
            password: env.optional("REDIS_PASSWORD").map(SecretString::from),
            max_connections,
            socket_timeout,
            connect_timeout: env.seconds_within(
                "REDIS_SOCKET_CONNECT_TIMEOUT",
                socket_timeout,
                Duration::from_millis(50)..=Duration::from_secs(300),
            )?,
            key_prefix: env.string_or("REDIS_KEY_PREFIX", DEFAULT_KEY_PREFIX),
        })
    }
}

/// `host[:port],...`; at least one, each with a host and a valid port.
fn sentinels(list: &str) -> Result<Vec<NodeAddr>, ConfigError> {
    const VAR: &str = "REDIS_SENTINELS";
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (host, port) = match item.rsplit_once(':') {
            Some((host, port)) => {
                let port: u16 = port.parse().map_err(|_| {
                    ConfigError::malformed(VAR, list, format!("{item:?}: port must be 1-65535"))
                })?;
                (host, port)
            }
            None => (item, DEFAULT_SENTINEL_PORT),
        };
        if host.is_empty() || port == 0 {
            return Err(ConfigError::malformed(
                VAR,
                list,
                format!("{item:?}: expected host:port"),
            ));
        }
        out.push(NodeAddr::new(host, port));
    }
    if out.is_empty() {
        return Err(ConfigError::malformed(VAR, list, "lists no Sentinel"));
    }
    Ok(out)
}

/// A TCP port; 0 is rejected because it cannot be connected to.
fn port(env: &Env, name: &str) -> Result<u16, ConfigError> {
    let port: u16 = env.parse_or(name, DEFAULT_PORT)?;
    if port == 0 {
        return Err(ConfigError::malformed(name, "0", "port must be 1-65535"));
    }
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_with_only_the_master_host() {
        let cfg = RedisConfig::from_env(&Env::from_pairs([("REDIS_MASTER_HOST", "redis-master")]))
            .unwrap();
        assert_eq!(cfg, RedisConfig::new("redis-master", 6379));
        assert!(cfg.replicas.is_empty());
        assert_eq!(cfg.max_connections, 10);
        assert_eq!(cfg.socket_timeout, Duration::from_secs(5));
        assert_eq!(cfg.key_prefix, "starshop:");
        assert!(cfg.password.is_none());
    }

    #[test]
    fn reads_the_seed_names() {
        let env = Env::from_pairs([
            ("REDIS_MASTER_HOST", "m"),
            ("REDIS_MASTER_PORT", "7000"),
            ("REDIS_SLAVE1_HOST", "r1"),
            ("REDIS_SLAVE1_PORT", "7001"),
            ("REDIS_SLAVE2_HOST", "r2"),
            ("REDIS_PASSWORD", "s3cret"),
            ("REDIS_MAX_CONNECTIONS", "4"),
            ("REDIS_SOCKET_TIMEOUT", "0.5"),
            ("REDIS_KEY_PREFIX", "test:"),
        ]);
        let cfg = RedisConfig::from_env(&env).unwrap();
        let expected = RedisConfig::new("m", 7000)
            .with_replica("r1", 7001)
            .with_replica("r2", 6379)
            .with_password("s3cret")
            .with_max_connections(4)
            .with_socket_timeout(Duration::from_millis(500))
            .with_key_prefix("test:");
        assert_eq!(cfg, expected);
    }

    #[test]
    fn missing_master_host_names_the_variable() {
        let err =
            RedisConfig::from_env(&Env::from_pairs([("REDIS_MASTER_PORT", "6379")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("REDIS_MASTER_HOST".into()));
    }

    #[test]
    fn sentinels_replace_the_fixed_master() {
        let env = Env::from_pairs([
            ("REDIS_SENTINELS", "s1:26380, s2 ,s3:26382"),
            ("REDIS_SENTINEL_MASTER", "shop"),
            ("REDIS_SLAVE1_HOST", "r1"),
        ]);
        let cfg = RedisConfig::from_env(&env).unwrap();
        let sentinels = vec![
            NodeAddr::new("s1", 26380),
            NodeAddr::new("s2", 26379),
            NodeAddr::new("s3", 26382),
        ];
        assert_eq!(
            cfg,
            RedisConfig::new("unused", 1)
                .with_sentinels(sentinels, "shop")
                .with_replica("r1", 6379)
        );
        assert_eq!(
            cfg.master.to_string(),
            "shop via sentinels s1:26380,s2:26379,s3:26382"
        );
        // The seed's fixed master is ignored, and the name has a default.
        let env = Env::from_pairs([("REDIS_SENTINELS", "s1"), ("REDIS_MASTER_HOST", "m")]);
        match RedisConfig::from_env(&env).unwrap().master {
            Master::Sentinel { name, .. } => assert_eq!(name, "starshop"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_sentinel_lists_name_the_variable() {
        for list in ["s1:x", "s1:0", ":26379", " , ", "s1:70000"] {
            let env = Env::from_pairs([("REDIS_SENTINELS", list)]);
            let msg = RedisConfig::from_env(&env).unwrap_err().to_string();
            assert!(msg.contains("REDIS_SENTINELS"), "{list:?}: {msg}");
        }
    }

    #[test]
    fn malformed_ports_name_the_variable() {
        for (var, value) in [
            ("REDIS_MASTER_PORT", "sixty"),
            ("REDIS_MASTER_PORT", "70000"),
            ("REDIS_MASTER_PORT", "0"),
            ("REDIS_SLAVE1_PORT", "x"),
            ("REDIS_SLAVE2_PORT", "-1"),
        ] {
            let env = Env::from_pairs([
                ("REDIS_MASTER_HOST", "m"),
                ("REDIS_SLAVE1_HOST", "r1"),
                ("REDIS_SLAVE2_HOST", "r2"),
                (var, value),
            ]);
            let msg = RedisConfig::from_env(&env).unwrap_err().to_string();
            assert!(msg.contains(var), "{var}={value}: {msg}");
        }
    }

    #[test]
    fn bad_pool_size_and_timeout_name_the_variable() {
        for (var, value) in [
            ("REDIS_MAX_CONNECTIONS", "0"),
            ("REDIS_MAX_CONNECTIONS", "many"),
            ("REDIS_SOCKET_TIMEOUT", "0"),
            ("REDIS_SOCKET_TIMEOUT", "soon"),
        ] {
            let env = Env::from_pairs([("REDIS_MASTER_HOST", "m"), (var, value)]);
            let msg = RedisConfig::from_env(&env).unwrap_err().to_string();
            assert!(msg.contains(var), "{var}={value}: {msg}");
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let cfg = RedisConfig::new("m", 6379).with_password("hunter2");
        let dbg = format!("{cfg:?}");
        assert!(
            !dbg.contains("hunter2") && dbg.contains("redacted"),
            "{dbg}"
        );
    }
}

//! Where Redis is and how to talk to it, from the seed's environment variables.

use std::fmt;
use std::time::Duration;

use runtime::config::{ConfigError, Env};
use secrecy::{ExposeSecret, SecretString};

pub const DEFAULT_PORT: u16 = 6379;
pub const DEFAULT_MAX_CONNECTIONS: usize = 10;
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_KEY_PREFIX: &str = "starshop:";

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

/// Settings for [`Cache::connect`](crate::Cache::connect).
#[derive(Clone)]
pub struct RedisConfig {
    /// Takes every write and every read that must see the latest write.
    pub master: NodeAddr,
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
            master: NodeAddr::new(master_host, master_port),
            replicas: Vec::new(),
            password: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            socket_timeout: DEFAULT_SOCKET_TIMEOUT,
            connect_timeout: DEFAULT_SOCKET_TIMEOUT,
            key_prefix: DEFAULT_KEY_PREFIX.to_string(),
        }
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

    /// Reads `REDIS_MASTER_HOST` (required), `REDIS_MASTER_PORT`,
    /// `REDIS_SLAVE{1,2}_HOST`/`_PORT`, `REDIS_PASSWORD`,
    /// `REDIS_MAX_CONNECTIONS`, `REDIS_SOCKET_TIMEOUT` (seconds) and
    /// `REDIS_KEY_PREFIX`. Errors name the variable at fault.
    pub fn from_env(env: &Env) -> Result<RedisConfig, ConfigError> {
        let master_host = env.required("REDIS_MASTER_HOST")?;
        let master_port = port(env, "REDIS_MASTER_PORT")?;

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
            master: NodeAddr::new(master_host, master_port),
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

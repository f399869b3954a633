//! Configuration from environment variables, validated at start-up.
//!
//! Every service reads its settings through [`Env`], so a missing or malformed
//! variable stops the process with a message that names it. Tests build an
//! [`Env`] from pairs instead of mutating the process environment, which is
//! shared by all threads.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Display;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest duration any setting may have: longer is a typo (minutes for
/// seconds, a stray digit), and far beyond it `Duration` arithmetic overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A configuration problem, always naming the variable at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(String),
    #[error("environment variable {name} is malformed: {reason} (got {value:?})")]
    Malformed {
        name: String,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    pub fn malformed(name: &str, value: &str, reason: impl Display) -> Self {
        ConfigError::Malformed {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// A snapshot of environment variables. It remembers which names were read,
/// so a test can compare what the code expects with what deployment files
/// (docker-compose.yml, .env.example) provide.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    read: Arc<Mutex<BTreeSet<String>>>,
}

impl Env {
    /// The process environment (non-UTF-8 values are skipped).
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars().collect(),
            read: Default::default(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            read: Default::default(),
        }
    }

    /// Every variable, for handing the same configuration to a child process.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every variable name looked up so far, set or not.
    pub fn names_read(&self) -> BTreeSet<String> {
        self.read.lock().expect("env read-set poisoned").clone()
    }

    /// Sets or replaces one variable (tests and defaults).
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    /// The raw value; an empty string counts as unset, as in the seed's `.env`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.read
            .lock()
            .expect("env read-set poisoned")
            .insert(name.to_string());
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.get(name)
            .map(str::to_string)
            .ok_or_else(|| ConfigError::Missing(name.to_string()))
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or(default).to_string()
    }

    /// Parses a variable, falling back to `default` when unset.
    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| ConfigError::malformed(name, v, e)),
        }
    }

    pub fn parse_required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let v = self.required(name)?;
        v.parse().map_err(|e| ConfigError::malformed(name, &v, e))
    }

    /// Seconds as a duration, at most a week; accepts fractions ("0.5") so
    /// tests can use short timeouts. Zero is accepted: use [`Env::seconds_within`]
    /// where zero would mean "busy loop" or "no deadline".
    pub fn seconds_or(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        self.seconds_within(name, default, Duration::ZERO..=MAX_DURATION)
    }

    /// A whole number inside `range` (a count, a limit); a value outside it
    /// names the variable and the allowed range.
    pub fn u32_within(
        &self,
        name: &str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        let n: u32 = self.parse_or(name, default)?;
        if !range.contains(&n) {
            return Err(ConfigError::malformed(
                name,
                &n.to_string(),
                format!("must be between {} and {}", range.start(), range.end()),
            ));
        }
        Ok(n)
    }

    /// Seconds as a duration inside `range`; a value outside it (or one that
    /// is not a number) names the variable and the allowed range.
    pub fn seconds_within(
        &self,
        name: &str,
        default: Duration,
        range: std::ops::RangeInclusive<Duration>,
    ) -> Result<Duration, ConfigError> {
        let Some(v) = self.get(name) else {
            return Ok(default);
        };
        let secs: f64 = v.parse().map_err(|e| ConfigError::malformed(name, v, e))?;
        let out_of_range = || {
            ConfigError::malformed(
                name,
                v,
                format!(
                    "must be between {} and {} seconds",
                    range.start().as_secs_f64(),
                    range.end().as_secs_f64()
                ),
            )
        };
        // Checked before converting: Duration::from_secs_f64 panics on huge,
        // negative or non-finite values.
        if !secs.is_finite()
            || secs < range.start().as_secs_f64()
            || secs > range.end().as_secs_f64()
        {
            return Err(out_of_range());
        }
        Ok(Duration::from_secs_f64(secs))
    }

    /// A boolean: true/false, 1/0, yes/no.
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::malformed(name, v, "expected true or false")),
        }
    }

    /// A comma-separated list, each item parsed.
    pub fn list_or<T>(&self, name: &str, default: Vec<T>) -> Result<Vec<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(|e| ConfigError::malformed(name, v, e)))
                .collect(),
        }
    }

    /// A host:port pair from two variables.
    pub fn addr(
        &self,
        host_var: &str,
        port_var: &str,
        default_port: u16,
    ) -> Result<Option<(String, u16)>, ConfigError> {
        match self.get(host_var) {
            None => Ok(None),
            Some(host) => Ok(Some((
                host.to_string(),
                self.parse_or(port_var, default_port)?,
            ))),
        }
    }
}

/// Where this process runs; changes defaults such as log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Sandbox,
    Production,
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "development" | "dev" | "local" | "test" | "testing" => Ok(Environment::Development),
            "sandbox" => Ok(Environment::Sandbox),
            // Staging runs like production (JSON logs, real upstreams); it is a
            // deployment, not a code path.
            "production" | "prod" | "staging" | "stage" => Ok(Environment::Production),
            _ => Err("expected production, staging, development, test or sandbox".into()),
        }
    }
}

/// `WEBHOOK_HOST` may be `bot.example.com`, `https://bot.example.com` or carry a port.
pub fn public_url(host: &str, port: u16, path: &str) -> Result<String, ConfigError> {
    let (scheme, rest) = match host.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (scheme, rest),
        Some(_) => {
            return Err(ConfigError::malformed(
                "WEBHOOK_HOST",
                host,
                "the scheme must be http or https",
            ));
        }
        None => ("https", host),
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(ConfigError::malformed(
            "WEBHOOK_HOST",
            host,
            "expected a host name, optionally with scheme and port",
        ));
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    Ok(if has_port || port == 0 {
        format!("{scheme}://{authority}{path}")
    } else {
        format!("{scheme}://{authority}:{port}{path}")
    })
}

/// Settings every service reads.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub environment: Environment,
    /// A tracing filter built from `LOG_LEVEL` (the seed's INFO/DEBUG… or a full filter).
    pub log_filter: String,
    pub otlp_endpoint: Option<String>,
    pub health_check_interval: Duration,
    pub admin_ids: Vec<i64>,
    /// Read (and checked for nesting) by every service, so a fleet with
    /// deadlines that cut each other short never starts.
    pub deadlines: Deadlines,
}

impl CommonConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        // The seed's DEBUG=True turns on debug logs unless LOG_LEVEL says otherwise.
        let debug = env.bool_or("DEBUG", false)?;
        let log_level = env.string_or("LOG_LEVEL", if debug { "debug" } else { "info" });
        accept_seed_leftovers(env)?;
        let log_filter = crate::telemetry::filter_from_level(&log_level);
        if tracing_subscriber::EnvFilter::try_new(&log_filter).is_err() {
            return Err(ConfigError::malformed(
                "LOG_LEVEL",
                &log_level,
                "expected a level such as INFO or a tracing filter",
            ));
        }
        let otlp_endpoint = env.optional("OTEL_EXPORTER_OTLP_ENDPOINT");
        if let Some(e) = &otlp_endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(ConfigError::malformed(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                e,
                "expected an http(s) URL",
            ));
        }
        Ok(CommonConfig {
            environment: env.parse_or("ENVIRONMENT", Environment::Development)?,
            log_filter,
            otlp_endpoint,
            health_check_interval: env.seconds_within(
                "HEALTH_CHECK_INTERVAL",
                Duration::from_secs(30),
                Duration::from_millis(100)..=Duration::from_secs(3600),
            )?,
            admin_ids: env.list_or("ADMIN_IDS", vec![])?,
            deadlines: Deadlines::from_env(env)?,
        })
    }
}

/// The deadlines of one update, which must nest so the innermost gives up
/// first and every layer can still answer the one outside it:
/// one Heleket call < the bot's wait on payments < the gateway's budget for
/// an update < nginx's `proxy_read_timeout`. Every service reads all four
/// and refuses to start, naming them, when they do not nest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// `HELEKET_REQUEST_TIMEOUT`: one Heleket operation (its retries included).
    pub heleket_call: Duration,
    /// `PAYMENTS_CALL_TIMEOUT`: how long the bot waits for one payments call.
    pub payments_call: Duration,
    /// `HANDOVER_TIMEOUT`: the gateway's whole budget for answering one update
    /// (waiting for the chat's turn, the claim and the hand-over to the bot).
    pub update_budget: Duration,
    /// `NGINX_PROXY_READ_TIMEOUT`: how long nginx waits for the gateway.
    pub nginx_read: Duration,
}

impl Deadlines {
    pub const DEFAULT: Deadlines = Deadlines {
        heleket_call: Duration::from_secs(10),
        payments_call: Duration::from_secs(15),
        update_budget: Duration::from_secs(25),
        nginx_read: Duration::from_secs(30),
    };

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = Deadlines::DEFAULT;
        // A deadline of zero would fail everything; one of minutes would hold
        // a buyer (and Telegram's delivery) hostage.
        let range = Duration::from_millis(100)..=Duration::from_secs(300);
        let got = Deadlines {
            heleket_call: env.seconds_within(
                "HELEKET_REQUEST_TIMEOUT",
                d.heleket_call,
                range.clone(),
            )?,
            payments_call: env.seconds_within(
                "PAYMENTS_CALL_TIMEOUT",
                d.payments_call,
                range.clone(),
            )?,
            update_budget: env.seconds_within(
                "HANDOVER_TIMEOUT",
                d.update_budget,
                range.clone(),
            )?,
            nginx_read: env.seconds_within("NGINX_PROXY_READ_TIMEOUT", d.nginx_read, range)?,
        };
        let chain = [
            ("HELEKET_REQUEST_TIMEOUT", got.heleket_call),
            ("PAYMENTS_CALL_TIMEOUT", got.payments_call),
            ("HANDOVER_TIMEOUT", got.update_budget),
            ("NGINX_PROXY_READ_TIMEOUT", got.nginx_read),
        ];
        for pair in chain.windows(2) {
            let ((inner, a), (outer, b)) = (pair[0], pair[1]);
            if a >= b {
                return Err(ConfigError::malformed(
                    inner,
                    &a.as_secs_f64().to_string(),
                    format!(
                        "deadlines must nest: {inner} ({}s) must be shorter than {outer} ({}s), \
                         in the order HELEKET_REQUEST_TIMEOUT < PAYMENTS_CALL_TIMEOUT < \
                         HANDOVER_TIMEOUT < NGINX_PROXY_READ_TIMEOUT",
                        a.as_secs_f64(),
                        b.as_secs_f64()
                    ),
                ));
            }
        }
        Ok(got)
    }
}

/// Variables of the seed's `.env` that mean nothing here. They are accepted
/// (so the seed's file starts the fleet) and checked for their type, but
/// ignored; the README says why for each.
pub const SEED_IGNORED: &[&str] = &[
    // A Python exception class name: our breaker counts Heleket outages
    // (timeouts, transport errors, 5xx) and never a refusal (4xx).
    "CIRCUIT_BREAKER_EXPECTED_EXCEPTION",
    // redis-py's retry flag: our Redis commands fail fast and the caller
    // (Telegram, Heleket, the reconciler) retries the whole operation.
    "REDIS_RETRY_ON_TIMEOUT",
];

fn accept_seed_leftovers(env: &Env) -> Result<(), ConfigError> {
    let _ = env.get("CIRCUIT_BREAKER_EXPECTED_EXCEPTION");
    env.bool_or("REDIS_RETRY_ON_TIMEOUT", true)?;
    Ok(())
}

/// The address of a peer service's gRPC endpoint (`BOT_GRPC_URL` and the like).
pub fn grpc_url(env: &Env, name: &str, default: &str) -> Result<String, ConfigError> {
    let v = env.string_or(name, default);
    if !(v.starts_with("http://") || v.starts_with("https://")) {
        return Err(ConfigError::malformed(
            name,
            &v,
            "expected http://host:port",
        ));
    }
    Ok(v)
}

/// A listen address such as `0.0.0.0:50051`.
pub fn listen_addr(
    env: &Env,
    name: &str,
    default: &str,
) -> Result<std::net::SocketAddr, ConfigError> {
    let v = env.string_or(name, default);
    v.parse().map_err(|e| ConfigError::malformed(name, &v, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_required_variable_is_named() {
        let env = Env::from_pairs([("OTHER", "x")]);
        let err = env.required("TELEGRAM_TOKEN").unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing required environment variable TELEGRAM_TOKEN"
        );
    }

    #[test]
    fn malformed_number_names_variable_and_value() {
        let env = Env::from_pairs([("DATABASE_POOL_SIZE", "ten")]);
        let err = env.parse_or::<u32>("DATABASE_POOL_SIZE", 5).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("DATABASE_POOL_SIZE") && msg.contains("ten"),
            "{msg}"
        );
    }

    #[test]
    fn empty_value_counts_as_unset() {
        let env = Env::from_pairs([("REDIS_PASSWORD", "  ")]);
        assert_eq!(env.optional("REDIS_PASSWORD"), None);
        assert_eq!(env.parse_or("RATE_LIMIT_BURST", 10u32).unwrap(), 10);
    }

    #[test]
    fn seconds_accept_fractions_and_reject_negatives() {
        let env = Env::from_pairs([("A", "0.25"), ("B", "-1")]);
        assert_eq!(
            env.seconds_or("A", Duration::ZERO).unwrap(),
            Duration::from_millis(250)
        );
        assert!(env.seconds_or("B", Duration::ZERO).is_err());
    }

    #[test]
    fn lists_are_comma_separated() {
        let env = Env::from_pairs([("ADMIN_IDS", "1, 2,3")]);
        assert_eq!(
            env.list_or::<i64>("ADMIN_IDS", vec![]).unwrap(),
            vec![1, 2, 3]
        );
        let bad = Env::from_pairs([("ADMIN_IDS", "1,x")]);
        assert!(
            bad.list_or::<i64>("ADMIN_IDS", vec![])
                .unwrap_err()
                .to_string()
                .contains("ADMIN_IDS")
        );
    }

    #[test]
    fn webhook_url_is_built_from_the_seeds_parts() {
        assert_eq!(
            public_url("bot.example.com", 8443, "/webhook").unwrap(),
            "https://bot.example.com:8443/webhook"
        );
        assert_eq!(
            public_url("https://bot.example.com/", 0, "/wh").unwrap(),
            "https://bot.example.com/wh"
        );
        assert_eq!(
            public_url("https://127.0.0.1:9443", 8443, "/webhook").unwrap(),
            "https://127.0.0.1:9443/webhook"
        );
        assert!(public_url("https://", 0, "/webhook").is_err());
        assert!(public_url("ftp://bot.example.com", 0, "/webhook").is_err());
        assert!(public_url("bot.example.com/x", 0, "/webhook").is_err());
    }
}

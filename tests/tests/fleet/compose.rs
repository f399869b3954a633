//! docker-compose.yml and .env.example cannot be run here (no Docker engine),
//! so this test keeps them from drifting from the code: every variable the
//! services read is provided, every service and public port is declared.

use runtime::config::Env;
use serde_yaml::Value;
use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(testkit::repo_root().join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn env_example() -> Vec<(String, String)> {
    read(".env.example")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
}

/// Names set in a service's `environment:` (map or list form).
fn environment(svc: &Value) -> BTreeSet<String> {
    match &svc["environment"] {
        Value::Mapping(m) => m
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        Value::Sequence(s) => s
            .iter()
            .filter_map(|v| v.as_str())
            .map(|v| v.split('=').next().unwrap_or(v).to_string())
            .collect(),
        _ => BTreeSet::new(),
    }
}

type Build = fn(&Env) -> Result<(), runtime::config::ConfigError>;

/// Each service's name in compose and how it builds its configuration.
fn services() -> [(&'static str, Build); 5] {
    [
        ("gateway", |e| gateway::Config::from_env(e).map(|_| ())),
        ("bot", |e| bot::Config::from_env(e).map(|_| ())),
        ("payments", |e| payments::Config::from_env(e).map(|_| ())),
        ("broadcast", |e| broadcast::Config::from_env(e).map(|_| ())),
        ("admin", |e| admin::Config::from_env(e).map(|_| ())),
    ]
}

fn uses_env_file(svc: &Value) -> bool {
    let f = &svc["env_file"];
    f.as_str() == Some(".env")
        || f.as_sequence().is_some_and(|s| {
            s.iter()
                .any(|v| v.as_str() == Some(".env") || v["path"].as_str() == Some(".env"))
        })
}

#[test]
fn compose_declares_every_service_and_public_port() {
    let compose: Value = serde_yaml::from_str(&read("docker-compose.yml")).expect("valid YAML");
    for name in [
        "nginx",
        "gateway",
        "bot",
        "payments",
        "broadcast",
        "admin",
        "redis-master",
        "redis-replica-1",
        "redis-replica-2",
        "postgres",
    ] {
        service(&compose, name);
    }
    let nginx_ports = serde_yaml::to_string(&service(&compose, "nginx")["ports"]).unwrap();
    assert!(
        nginx_ports.contains("8080") && nginx_ports.contains("8443"),
        "{nginx_ports}"
    );
    let gateway = serde_yaml::to_string(service(&compose, "gateway")).unwrap();
    assert!(
        gateway.contains("8081"),
        "gateway listens on 8081: {gateway}"
    );
}

#[test]
fn env_example_and_compose_provide_every_variable_the_services_read() {
    let compose: Value = serde_yaml::from_str(&read("docker-compose.yml")).expect("valid YAML");
    let example = env_example();
    let provided: BTreeSet<String> = example.iter().map(|(k, _)| k.clone()).collect();
    // Each service builds its configuration from .env.example alone: the file is a
    // working configuration, not just a list of names. The env records what was read.
    let services = services();
    for (name, build) in services {
        let env = Env::from_pairs(example.clone());
        build(&env).unwrap_or_else(|e| panic!(".env.example does not configure {name}: {e}"));
        let svc = service(&compose, name);
        assert!(uses_env_file(svc), "{name} reads .env");
        let mut available = provided.clone();
        available.extend(environment(svc));
        for var in env.names_read() {
            assert!(
                available.contains(&var),
                "{var} is read by {name} but neither .env.example nor its service in docker-compose.yml sets it"
            );
        }
    }
    // The gateway's default peer addresses must be the compose service names.
    let gw = gateway::Config::from_env(&Env::from_pairs(example)).unwrap();
    for url in [&gw.bot_url, &gw.payments_url, &gw.broadcast_url] {
        let host = url.trim_start_matches("http://").split(':').next().unwrap();
        service(&compose, host);
    }
}

/// Secrets in .env that some service does not need. Each service still reads
/// .env (one file for operators), so compose blanks the ones it does not read.
const SECRETS: [&str; 6] = [
    "TELEGRAM_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "API_KEY",
    "MERCHANT_UUID",
    "REDIS_PASSWORD",
    "POSTGRES_PASSWORD",
];

#[test]
fn each_service_gets_only_the_secrets_it_reads_and_is_checked_by_itself() {
    let compose: Value = serde_yaml::from_str(&read("docker-compose.yml")).expect("valid YAML");
    let services = services();
    for (name, build) in services {
        let env = Env::from_pairs(env_example());
        build(&env).unwrap();
        let read = env.names_read();
        let svc = service(&compose, name);
        for secret in SECRETS {
            let value = svc["environment"].get(secret);
            if read.contains(secret) {
                assert!(
                    value.is_none(),
                    "{name} reads {secret}, but compose overrides it: {value:?}"
                );
            } else {
                assert_eq!(
                    value.and_then(Value::as_str),
                    Some(""),
                    "{name} does not read {secret}; compose must blank it"
                );
            }
        }
        // Restarted for its own sake only, and given time to drain its updates
        // (above HANDOVER_TIMEOUT's default of 25 s).
        let check = serde_yaml::to_string(&svc["healthcheck"]["test"]).unwrap();
        assert!(check.contains("/health/live"), "{name}: {check}");
        let grace = svc["stop_grace_period"].as_str().unwrap_or_default();
        let secs: u64 = grace.trim_end_matches('s').parse().unwrap_or(0);
        assert!(secs > 25, "{name}: stop_grace_period {grace:?}");
        // Found through the Sentinels.
        assert!(
            svc["environment"]["REDIS_SENTINELS"]
                .as_str()
                .is_some_and(|s| s.split(',').count() == 3),
            "{name} lists the three Sentinels"
        );
    }
    for n in 1..=3 {
        service(&compose, &format!("redis-sentinel-{n}"));
    }
    // The Redis password is never on a command line (`ps` would show it).
    for name in [
        "redis-master",
        "redis-replica-1",
        "redis-replica-2",
        "redis-sentinel-1",
        "redis-sentinel-2",
        "redis-sentinel-3",
    ] {
        let cmd = serde_yaml::to_string(&service(&compose, name)["command"]).unwrap();
        assert!(
            !cmd.contains("--requirepass") && !cmd.contains("--masterauth"),
            "{name}: {cmd}"
        );
    }
}

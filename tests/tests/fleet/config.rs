//! Start-up configuration: a missing or malformed setting names the variable.

use runtime::config::Env;

fn seed_env() -> Env {
    Env::from_pairs([
        ("TELEGRAM_TOKEN", "123:abc"),
        ("DATABASE_URL", "postgres://u:p@localhost:5432/starshop"),
        ("REDIS_MASTER_HOST", "localhost"),
        ("MERCHANT_UUID", "m"),
        ("API_KEY", "k"),
    ])
}

#[test]
fn every_service_rejects_a_missing_telegram_token_by_name() {
    let mut env = seed_env();
    env.set("TELEGRAM_TOKEN", "");
    let errors = [
        gateway::Config::from_env(&env).unwrap_err().to_string(),
        bot::Config::from_env(&env).unwrap_err().to_string(),
        payments::Config::from_env(&env).unwrap_err().to_string(),
        broadcast::Config::from_env(&env).unwrap_err().to_string(),
    ];
    for e in errors {
        assert_eq!(e, "missing required environment variable TELEGRAM_TOKEN");
    }
}

#[test]
fn malformed_settings_are_named() {
    for (name, value) in [
        ("DATABASE_POOL_SIZE", "many"),
        ("REDIS_MASTER_PORT", "70000"),
        ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "-1"),
        ("PAYMENT_TIMEOUT", "soon"),
        ("DATABASE_URL", "mysql://nope"),
        ("ADMIN_IDS", "1,two"),
    ] {
        let mut env = seed_env();
        env.set(name, value);
        let err = payments::Config::from_env(&env).unwrap_err().to_string();
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn the_seeds_variables_alone_configure_every_service() {
    let env = seed_env();
    gateway::Config::from_env(&env).unwrap();
    bot::Config::from_env(&env).unwrap();
    payments::Config::from_env(&env).unwrap();
    broadcast::Config::from_env(&env).unwrap();
    admin::Config::from_env(&env).unwrap();
}

/// The seed project's `.env`, exactly as its README writes it (a copy of
/// the reference kept in tests/fixtures).
pub fn seed_file() -> Vec<(String, String)> {
    std::fs::read_to_string(testkit::repo_root().join("tests/fixtures/seed.env"))
        .expect("tests/fixtures/seed.env")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

type Build = fn(&Env) -> Result<String, runtime::config::ConfigError>;
/// Every service's configuration, as its `{:?}`.
const SERVICES: [(&str, Build); 5] = [
    ("gateway", |e| {
        gateway::Config::from_env(e).map(|c| format!("{c:?}"))
    }),
    ("bot", |e| {
        bot::Config::from_env(e).map(|c| format!("{c:?}"))
    }),
    ("payments", |e| {
        payments::Config::from_env(e).map(|c| format!("{c:?}"))
    }),
    ("broadcast", |e| {
        broadcast::Config::from_env(e).map(|c| format!("{c:?}"))
    }),
    ("admin", |e| {
        admin::Config::from_env(e).map(|c| format!("{c:?}"))
    }),
];

#[test]
fn the_seeds_env_file_configures_every_service_as_written() {
    let env = Env::from_pairs(seed_file());
    for (name, build) in SERVICES {
        build(&env).unwrap_or_else(|e| panic!("the seed's .env does not configure {name}: {e}"));
    }
    // PAYMENT_TIMEOUT keeps the seed's meaning: the invoice lifetime. One Heleket
    // call has its own, short deadline.
    let p = payments::Config::from_env(&env).unwrap();
    assert_eq!(p.invoice_lifetime, std::time::Duration::from_secs(300));
    assert_eq!(p.heleket.timeout, std::time::Duration::from_secs(10));
}

#[test]
fn usual_environment_names_are_accepted() {
    for value in [
        "production",
        "staging",
        "development",
        "test",
        "sandbox",
        "PRODUCTION",
    ] {
        let mut env = seed_env();
        env.set("ENVIRONMENT", value);
        for (name, build) in SERVICES {
            build(&env).unwrap_or_else(|e| panic!("ENVIRONMENT={value} refused by {name}: {e}"));
        }
    }
    let mut env = seed_env();
    env.set("ENVIRONMENT", "moon");
    assert!(
        gateway::Config::from_env(&env)
            .unwrap_err()
            .to_string()
            .contains("ENVIRONMENT")
    );
}

#[test]
fn deadlines_that_do_not_nest_stop_every_service_naming_them() {
    for (name, value, also_named) in [
        ("HANDOVER_TIMEOUT", "40", "NGINX_PROXY_READ_TIMEOUT"),
        ("HELEKET_REQUEST_TIMEOUT", "20", "PAYMENTS_CALL_TIMEOUT"),
        ("PAYMENTS_CALL_TIMEOUT", "25", "HANDOVER_TIMEOUT"),
        ("NGINX_PROXY_READ_TIMEOUT", "5", "HANDOVER_TIMEOUT"),
    ] {
        let mut env = seed_env();
        env.set(name, value);
        for (service, build) in SERVICES {
            let err = build(&env).expect_err("must refuse").to_string();
            assert!(
                err.contains(name) && err.contains(also_named),
                "{service} with {name}={value}: {err}"
            );
        }
    }
}

#[test]
fn zero_and_absurd_durations_name_the_variable_instead_of_looping_or_panicking() {
    for (name, value) in [
        ("RECONCILE_INTERVAL", "0"),
        ("RECONCILE_INTERVAL", "1e30"),
        ("RECONCILE_INTERVAL", "inf"),
        ("CALLBACK_LEASE", "0"),
        ("HELEKET_REQUEST_TIMEOUT", "0"),
        ("HANDOVER_TIMEOUT", "99999999999999999999"),
        ("PAYMENT_TIMEOUT", "60"),
        ("PAYMENT_TIMEOUT", "86400"),
        ("HEALTH_CHECK_INTERVAL", "0"),
        ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "1e300"),
        ("DATABASE_ACQUIRE_TIMEOUT", "-5"),
        ("REDIS_SOCKET_CONNECT_TIMEOUT", "1e20"),
    ] {
        let mut env = seed_env();
        env.set(name, value);
        let err = std::panic::catch_unwind(|| payments::Config::from_env(&env))
            .unwrap_or_else(|_| panic!("{name}={value} panicked"))
            .expect_err("must refuse")
            .to_string();
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn no_configuration_prints_a_secret() {
    let secrets = [
        ("TELEGRAM_TOKEN", "987654:SECRET-token-value"),
        ("API_KEY", "SECRET-heleket-api-key"),
        ("REDIS_PASSWORD", "SECRET-redis-password"),
        (
            "DATABASE_URL",
            "postgresql+asyncpg://u:SECRET-db-password@db.example/x?ssl=require",
        ),
        ("TELEGRAM_WEBHOOK_SECRET", "SECRET-webhook-secret"),
    ];
    let mut env = seed_env();
    for (k, v) in secrets {
        env.set(k, v);
    }
    for (service, build) in SERVICES {
        let dbg = build(&env).unwrap();
        for (name, value) in secrets {
            let needle = if name == "DATABASE_URL" {
                "SECRET-db-password"
            } else {
                value
            };
            assert!(
                !dbg.contains(needle),
                "{service}'s config prints {name}: {dbg}"
            );
        }
    }
    // Without TELEGRAM_WEBHOOK_SECRET the secret is derived from the token: also hidden.
    env.set("TELEGRAM_WEBHOOK_SECRET", "");
    let dbg = format!("{:?}", gateway::Config::from_env(&env).unwrap());
    assert!(!dbg.contains("SECRET"), "{dbg}");
}

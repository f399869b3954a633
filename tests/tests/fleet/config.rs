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
}

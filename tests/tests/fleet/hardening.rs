//! What an operator and a buyer hit in the first week: the seed's own `.env`
//! must start the fleet, a cut hand-over must not open a second order, and
//! an update that always fails must not block its chat forever.

use crate::config::seed_file;
use crate::harness::{self, ADMIN, Fleet, Running, SECRET, button_data, user};
use runtime::config::Env;
use sandbox::heleket::{FakeHeleket, HeleketOptions};
use sandbox::telegram::{FakeTelegram, TelegramOptions};
use serde_json::json;
use std::time::Duration;

/// Every service built from the seed's `.env` text, with only the hosts
/// pointed at the test servers (Postgres over verified TLS in the seed's
/// `postgresql+asyncpg://...?ssl=require` form, a Redis trio with the seed's
/// password) and the two API base URLs added; the gateway's /health answers.
#[tokio::test]
async fn the_seeds_env_starts_every_service_and_health_answers() {
    runtime::telemetry::init("e2e", "info,sqlx=warn,fred=warn", None).expect("telemetry");
    runtime::http::install_crypto();
    let seed: Env = Env::from_pairs(seed_file());
    let (merchant, api_key, redis_password) = (
        seed.required("MERCHANT_UUID").unwrap(),
        seed.required("API_KEY").unwrap(),
        seed.required("REDIS_PASSWORD").unwrap(),
    );
    let tg = FakeTelegram::start(TelegramOptions::default())
        .await
        .unwrap();
    let heleket = FakeHeleket::start(HeleketOptions {
        merchant,
        api_key,
        port: 0,
    })
    .await
    .unwrap();
    let redis = testkit::redis::RedisTrio::start_with_password(&redis_password)
        .await
        .unwrap();
    let db = testkit::postgres::fresh_database().await.unwrap();
    let db_url = url::Url::parse(&db.url).unwrap();
    let ca = std::env::var("TEST_PG_TLS_CA")
        .expect("TEST_PG_TLS_CA is not set: run tests through scripts/test.sh");

    let mut env = Env::from_pairs(seed_file());
    // The seed's form, pointed at the test server (its certificate names "localhost").
    env.set(
        "DATABASE_URL",
        format!(
            "postgresql+asyncpg://starshop:starshop@localhost:{}{}?ssl=require&sslrootcert={ca}",
            db_url.port().unwrap(),
            db_url.path()
        ),
    );
    env.set("DATABASE_POOL_SIZE", "1");
    env.set("DATABASE_MAX_OVERFLOW", "3");
    env.set("REDIS_MASTER_HOST", "127.0.0.1");
    env.set("REDIS_MASTER_PORT", redis.master_port().to_string());
    let [r1, r2] = redis.replica_ports();
    env.set("REDIS_SLAVE1_HOST", "127.0.0.1");
    env.set("REDIS_SLAVE1_PORT", r1.to_string());
    env.set("REDIS_SLAVE2_HOST", "127.0.0.1");
    env.set("REDIS_SLAVE2_PORT", r2.to_string());
    env.set("TELEGRAM_API_BASE", tg.base_url());
    env.set("HELEKET_API_BASE", heleket.base_url());
    for var in [
        "BOT_LISTEN",
        "PAYMENTS_LISTEN",
        "BROADCAST_LISTEN",
        "ADMIN_LISTEN",
    ] {
        env.set(var, "127.0.0.1:0");
    }
    let gw_port = testkit::ports::free_port();
    env.set("GATEWAY_LISTEN", format!("127.0.0.1:{gw_port}"));

    let payments = payments::App::build(payments::Config::from_env(&env).expect("payments config"))
        .await
        .expect("payments starts");
    env.set(
        "PAYMENTS_GRPC_URL",
        format!("http://127.0.0.1:{}", payments.port()),
    );
    let broadcast =
        broadcast::App::build(broadcast::Config::from_env(&env).expect("broadcast config"))
            .await
            .expect("broadcast starts");
    env.set(
        "BROADCAST_GRPC_URL",
        format!("http://127.0.0.1:{}", broadcast.port()),
    );
    let bot = bot::App::build(bot::Config::from_env(&env).expect("bot config"))
        .await
        .expect("bot starts");
    env.set("BOT_GRPC_URL", format!("http://127.0.0.1:{}", bot.port()));
    let gateway = gateway::App::build(gateway::Config::from_env(&env).expect("gateway config"))
        .await
        .expect("gateway starts");
    let admin = admin::App::build(admin::Config::from_env(&env).expect("admin config"))
        .await
        .expect("admin starts");
    let admin_port = admin.port();
    let running = [
        Running::spawn(|t| admin.run(t)),
        Running::spawn(|t| payments.run(t)),
        Running::spawn(|t| broadcast.run(t)),
        Running::spawn(|t| bot.run(t)),
        Running::spawn(|t| gateway.run(t)),
    ];

    let http = reqwest::Client::new();
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..100 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{gw_port}/health"))
            .send()
            .await
        {
            last = (r.status().as_u16(), r.json().await.unwrap_or_default());
            if last.0 == 200 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, 200, "{}", last.1);
    for c in ["db", "redis", "bot", "payments", "broadcast"] {
        assert_eq!(last.1["components"][c]["status"], "up", "{c}: {}", last.1);
    }
    let admin_health = http
        .get(format!("http://127.0.0.1:{admin_port}/health"))
        .send()
        .await
        .expect("admin /health");
    assert_eq!(
        admin_health.status(),
        200,
        "the admin API starts from the seed's .env too"
    );
    // The session really is encrypted.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let tls_sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.datname = current_database() AND s.ssl",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        tls_sessions >= 1,
        "the services' sessions are not encrypted"
    );
    pool.close().await;
    for r in running {
        r.stop().await;
    }
}

/// Telegram gives up on the webhook (1 s) while a slow but working Heleket
/// (1.5 s) is creating the invoice, then redelivers: the work that was cut
/// off finishes, and the buyer ends with one order and one pay link.
#[tokio::test]
async fn a_buy_press_cut_off_by_a_timeout_and_redelivered_opens_one_order() {
    let tg_opts = TelegramOptions {
        delivery_timeout: Duration::from_secs(1),
        delivery_attempts: 8,
        delivery_first_delay: Duration::from_millis(300),
        ..TelegramOptions::default()
    };
    let fleet = Fleet::start_custom(tg_opts, |_| {}).await;
    let u = user(7101);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    assert!(button_data(&packs).contains(&"buy:100".to_string()));
    fleet.heleket.set_latency(Duration::from_millis(1500));
    let d = fleet
        .tg
        .user_presses(&u, harness::message_id(&packs), "buy:100")
        .await
        .unwrap();
    assert!(d.delivered, "never acknowledged: {:?}", d.attempts);
    assert_eq!(
        d.attempts[0], 0,
        "the first attempt timed out: {:?}",
        d.attempts
    );
    fleet.wait_text(u.id, "Pay with the button").await;
    // Give a (wrong) second order time to appear.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fleet.orders_of(u.id).await, 1);
    assert_eq!(fleet.heleket.invoices().len(), 1);
    let links = fleet
        .replies_to(u.id)
        .iter()
        .filter(|c| button_data(c).iter().any(|b| b.starts_with("chk:")))
        .count();
    assert_eq!(links, 1, "{:#?}", fleet.texts_to(u.id));
    fleet.stop().await;
}

/// The same press (one callback query id) arriving as five updates, as a
/// client retry or a replay would: one order, one invoice, one pay link.
#[tokio::test]
async fn the_same_buy_press_delivered_five_times_opens_one_order() {
    let fleet = Fleet::start().await;
    let u = user(7102);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    let before = fleet.replies_to(u.id).len();
    for i in 0..5 {
        let update = json!({
            "update_id": 710_200 + i,
            "callback_query": {
                "id": "4382913000000007102",
                "from": {"id": u.id, "is_bot": false, "first_name": "Ann", "language_code": "en"},
                "message": {
                    "message_id": harness::message_id(&packs),
                    "from": {"id": 1, "is_bot": true, "first_name": "Bot"},
                    "chat": {"id": u.id, "type": "private", "first_name": "Ann"},
                    "date": 1_763_700_000,
                    "text": "Choose a pack"
                },
                "chat_instance": "-100",
                "data": "buy:250"
            }
        });
        let r = fleet.post_update(update.to_string(), Some(SECRET)).await;
        assert_eq!(r.status(), 200, "copy {i}");
    }
    assert_eq!(fleet.orders_of(u.id).await, 1);
    assert_eq!(fleet.heleket.invoices().len(), 1);
    let new_messages = fleet.replies_to(u.id).len() - before;
    assert_eq!(new_messages, 1, "{:#?}", fleet.texts_to(u.id));
    fleet.stop().await;
}

/// A stored dialog that no longer parses makes the bot fail on every
/// delivery of that message. After a few attempts it is parked: Telegram
/// gets 200, the raw update and the error are kept, the admins hear once,
/// and the chat's next update is handled.
#[tokio::test]
async fn an_update_that_always_fails_is_parked_and_the_chat_moves_on() {
    let tg_opts = TelegramOptions {
        delivery_attempts: 8,
        delivery_first_delay: Duration::from_millis(50),
        ..TelegramOptions::default()
    };
    let fleet = Fleet::start_custom(tg_opts, |_| {}).await;
    let u = user(7103);
    fleet.say(&u, "/start").await;
    let prefix = fleet
        .env
        .get("REDIS_KEY_PREFIX")
        .unwrap_or("starshop:")
        .to_string();
    fleet
        .redis
        .command(
            fleet.redis.master_port(),
            &[
                "SET",
                &format!("{prefix}session:dialog:{}", u.id),
                "{not json",
            ],
        )
        .await
        .unwrap();

    let d = fleet.tg.user_sends(&u, "500").await.unwrap();
    assert!(d.delivered, "{:?}", d.attempts);
    assert_eq!(
        d.attempts,
        vec![500, 500, 500, 500, 200],
        "parked on the 5th failure"
    );
    let (attempts, parked, error): (i32, bool, String) = sqlx::query_as(
        "SELECT attempts, parked_at IS NOT NULL, last_error FROM dead_updates WHERE chat_id = $1",
    )
    .bind(u.id)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert_eq!((attempts, parked), (5, true));
    // The bot keeps internals out of its gRPC status (its log line, found by
    // update_id, has the detail); the record says what kind of failure it was.
    assert!(error.contains("Internal"), "{error}");
    fleet.wait_text(ADMIN, "parked").await;
    let alerts = fleet
        .texts_to(ADMIN)
        .iter()
        .filter(|t| t.contains("parked"))
        .count();
    assert_eq!(alerts, 1);

    // Telegram may deliver the parked update once more (our 200 was lost on
    // the way): it is done, not handed to the bot a sixth time.
    let raw: Vec<u8> = sqlx::query_scalar("SELECT raw FROM dead_updates WHERE chat_id = $1")
        .bind(u.id)
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    let r = fleet.post_update(raw, Some(SECRET)).await;
    assert_eq!(r.status(), 200);
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM dead_updates WHERE chat_id = $1")
        .bind(u.id)
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 5, "the parked update was handled again");

    // The chat is not blocked: the next update is handled.
    let reply = fleet.say(&u, "/help").await;
    assert!(!reply.params["text"].as_str().unwrap_or_default().is_empty());
    fleet.stop().await;
}

/// A token Telegram refuses (the seed's placeholder, a typo) is reported
/// once as an error naming what to check, not retried with a warning every
/// minute for ever: an idle gateway with a bad token is quiet after that.
#[tokio::test]
async fn a_refused_set_webhook_is_reported_once_and_not_retried() {
    let logs = crate::harness::Logs::install();
    runtime::http::install_crypto();
    let tg = FakeTelegram::start(TelegramOptions {
        expected_token: Some("1:the-real-token".into()),
        ..TelegramOptions::default()
    })
    .await
    .unwrap();
    let redis = testkit::redis::RedisTrio::start().await.unwrap();
    let db = testkit::postgres::fresh_database().await.unwrap();
    let mut env = Env::from_pairs(seed_file());
    for (k, v) in redis.env_pairs() {
        env.set(&k, v);
    }
    env.set("REDIS_PASSWORD", "");
    env.set("DATABASE_URL", db.url.clone());
    env.set("TELEGRAM_API_BASE", tg.base_url());
    env.set("GATEWAY_LISTEN", "127.0.0.1:0");
    let gateway = gateway::App::build(gateway::Config::from_env(&env).unwrap())
        .await
        .unwrap();
    let running = Running::spawn(|t| gateway.run(t));
    tg.wait_for_call(|c| c.method == "setWebhook", Duration::from_secs(5))
        .await
        .expect("the gateway calls setWebhook");
    // The old loop retried after 0.5, 1, 2 and 4 s.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(tg.calls_to("setWebhook").len(), 1);
    let errors: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("setWebhook"))
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["level"], "ERROR");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("TELEGRAM_TOKEN")
    );
    running.stop().await;
}

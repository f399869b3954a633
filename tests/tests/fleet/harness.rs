//! The whole fleet in one test process: real Postgres (a fresh database),
//! a real Redis master + 2 replicas and a real nginx in front, the four
//! services talking gRPC over loopback, and the sandbox fakes of Telegram
//! and Heleket. Only the two external services are fake.

use runtime::config::Env;
use sandbox::heleket::{FakeHeleket, HeleketOptions};
use sandbox::telegram::{FakeTelegram, TelegramOptions, TgUser};
use sqlx::PgPool;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::nginx::{Nginx, NginxOptions};
use testkit::postgres::TestDb;
use testkit::redis::RedisTrio;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "123456:TEST-sandbox-token";
pub const SECRET: &str = "e2e-webhook-secret_0123456789";
pub const MERCHANT: &str = "8b03432e-385b-4670-8d06-064591096795";
pub const API_KEY: &str = "e2e-payment-key";
pub const ADMIN: i64 = 900_001;

/// A service running as a task, stoppable like a process.
pub struct Running {
    token: CancellationToken,
    join: JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn spawn<F>(run: impl FnOnce(CancellationToken) -> F) -> Running
    where
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let token = CancellationToken::new();
        let join = tokio::spawn(run(token.clone()));
        Running { token, join }
    }

    /// Graceful stop (what SIGTERM does), waiting for in-flight work.
    pub async fn stop(self) {
        self.token.cancel();
        let _ = self.join.await;
    }
}

pub struct Fleet {
    pub env: Env,
    pub tg: FakeTelegram,
    pub heleket: FakeHeleket,
    pub redis: RedisTrio,
    /// Kept so the database outlives the fleet.
    _db: TestDb,
    pub pool: PgPool,
    pub nginx: Nginx,
    pub http: reqwest::Client,
    pub bot: Option<Running>,
    pub payments: Option<Running>,
    pub broadcast: Option<Running>,
    pub gateway: Option<Running>,
    /// The gateway's port, held from start-up until the first gateway uses it.
    gateway_listener: Option<std::net::TcpListener>,
}

impl Fleet {
    pub async fn start() -> Fleet {
        Self::start_with(|_| {}).await
    }

    /// Starts everything; `tweak` may change the environment first.
    pub async fn start_with(tweak: impl FnOnce(&mut Env)) -> Fleet {
        Self::start_custom(TelegramOptions::default(), tweak).await
    }

    /// Like [`Fleet::start_with`], with the fake Telegram's knobs too
    /// (delivery timeout, attempts).
    pub async fn start_custom(tg_opts: TelegramOptions, tweak: impl FnOnce(&mut Env)) -> Fleet {
        let redis = RedisTrio::start().await.expect("redis trio");
        let db = testkit::postgres::fresh_database()
            .await
            .expect("fresh database");
        Self::start_on(tg_opts, redis, db, tweak).await
    }

    /// Like [`Fleet::start_custom`] on a Redis trio and database the test
    /// made itself (with Sentinels, on a private Postgres server).
    pub async fn start_on(
        tg_opts: TelegramOptions,
        redis: RedisTrio,
        db: TestDb,
        tweak: impl FnOnce(&mut Env),
    ) -> Fleet {
        // One subscriber and tracer per test process (nextest runs each test
        // in its own process), so trace ids are minted and propagated.
        runtime::telemetry::init("e2e", "info,sqlx=warn,fred=warn", None).expect("telemetry");
        runtime::http::install_crypto();

        let tg = FakeTelegram::start(tg_opts).await.expect("fake telegram");
        let heleket = FakeHeleket::start(HeleketOptions {
            merchant: MERCHANT.into(),
            api_key: API_KEY.into(),
            port: 0,
        })
        .await
        .expect("fake heleket");

        let mut env = Env::from_pairs([
            ("ENVIRONMENT", "development".to_string()),
            ("LOG_LEVEL", "info".to_string()),
            ("TELEGRAM_TOKEN", TOKEN.to_string()),
            ("TELEGRAM_API_BASE", tg.base_url()),
            ("TELEGRAM_WEBHOOK_SECRET", SECRET.to_string()),
            ("HELEKET_API_BASE", heleket.base_url()),
            ("MERCHANT_UUID", MERCHANT.to_string()),
            ("API_KEY", API_KEY.to_string()),
            ("DATABASE_URL", db.url.clone()),
            ("DATABASE_POOL_SIZE", "1".to_string()),
            ("DATABASE_MAX_OVERFLOW", "4".to_string()),
            ("REDIS_SOCKET_TIMEOUT", "1".to_string()),
            ("HELEKET_ALLOWED_IPS", "127.0.0.1".to_string()),
            ("ADMIN_IDS", ADMIN.to_string()),
            // Short deadlines that still nest (the gateway checks the order).
            ("HELEKET_REQUEST_TIMEOUT", "2".to_string()),
            ("PAYMENTS_CALL_TIMEOUT", "3".to_string()),
            ("HANDOVER_TIMEOUT", "5".to_string()),
            ("NGINX_PROXY_READ_TIMEOUT", "8".to_string()),
            ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "3".to_string()),
            ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "1".to_string()),
            // The reconciler is switched on only by the tests about it.
            ("RECONCILE_INTERVAL", "3600".to_string()),
            ("BOT_LISTEN", "127.0.0.1:0".to_string()),
            ("PAYMENTS_LISTEN", "127.0.0.1:0".to_string()),
            ("BROADCAST_LISTEN", "127.0.0.1:0".to_string()),
        ]);
        for (k, v) in redis.env_pairs() {
            env.set(&k, v);
        }
        tweak(&mut env);

        let pool = PgPool::connect(&db.url).await.expect("connect test db");
        // Bound now and kept until the gateway starts: a port only looked up
        // here could be handed to another test's listener meanwhile, and nginx
        // is configured with it before the gateway exists.
        let gateway_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("gateway port");
        let gateway_port = gateway_listener.local_addr().expect("addr").port();
        // The test client plays the internet: nginx must not trust its
        // X-Forwarded-For, even though it connects from loopback.
        let read_timeout: f64 = env
            .get("NGINX_PROXY_READ_TIMEOUT")
            .and_then(|v| v.parse().ok())
            .unwrap_or(30.0);
        let nginx = Nginx::start_with(
            SocketAddr::from(([127, 0, 0, 1], gateway_port)),
            NginxOptions::new("/webhook")
                .trusting_nobody()
                .with_read_timeout(Duration::from_secs_f64(read_timeout)),
        )
        .await
        .expect("nginx");
        env.set("GATEWAY_LISTEN", format!("127.0.0.1:{gateway_port}"));
        env.set("WEBHOOK_HOST", nginx.https_url());

        let mut fleet = Fleet {
            env,
            tg,
            heleket,
            redis,
            _db: db,
            pool,
            nginx,
            http: reqwest::Client::builder()
                .tls_danger_accept_invalid_certs(true)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            bot: None,
            payments: None,
            broadcast: None,
            gateway: None,
            gateway_listener: Some(gateway_listener),
        };
        // Payments first: the bot needs its address.
        fleet.start_payments().await;
        fleet.start_broadcast().await;
        fleet.start_bot().await;
        fleet.start_gateway().await;
        fleet.wait_for_webhook().await;
        fleet
    }

    /// Starts the bot; after a stop it comes back on the same port.
    pub async fn start_bot(&mut self) {
        let app = bot::App::build(bot::Config::from_env(&self.env).expect("bot config"))
            .await
            .expect("bot starts");
        let port = app.port();
        self.env.set("BOT_LISTEN", format!("127.0.0.1:{port}"));
        self.env
            .set("BOT_GRPC_URL", format!("http://127.0.0.1:{port}"));
        self.bot = Some(Running::spawn(|t| app.run(t)));
    }

    pub async fn stop_bot(&mut self) {
        if let Some(b) = self.bot.take() {
            b.stop().await;
        }
    }

    pub async fn start_payments(&mut self) {
        let app =
            payments::App::build(payments::Config::from_env(&self.env).expect("payments config"))
                .await
                .expect("payments starts");
        let port = app.port();
        self.env.set("PAYMENTS_LISTEN", format!("127.0.0.1:{port}"));
        self.env
            .set("PAYMENTS_GRPC_URL", format!("http://127.0.0.1:{port}"));
        self.payments = Some(Running::spawn(|t| app.run(t)));
    }

    pub async fn stop_payments(&mut self) {
        if let Some(p) = self.payments.take() {
            p.stop().await;
        }
    }

    pub async fn start_broadcast(&mut self) {
        let app = broadcast::App::build(
            broadcast::Config::from_env(&self.env).expect("broadcast config"),
        )
        .await
        .expect("broadcast starts");
        let port = app.port();
        self.env
            .set("BROADCAST_LISTEN", format!("127.0.0.1:{port}"));
        self.env
            .set("BROADCAST_GRPC_URL", format!("http://127.0.0.1:{port}"));
        self.broadcast = Some(Running::spawn(|t| app.run(t)));
    }

    pub async fn stop_broadcast(&mut self) {
        if let Some(b) = self.broadcast.take() {
            b.stop().await;
        }
    }

    pub async fn stop_gateway(&mut self) {
        if let Some(g) = self.gateway.take() {
            g.stop().await;
        }
    }

    pub async fn start_gateway(&mut self) {
        let config = gateway::Config::from_env(&self.env).expect("gateway config");
        let app = match self.gateway_listener.take() {
            Some(held) => {
                held.set_nonblocking(true).expect("nonblocking");
                let listener = tokio::net::TcpListener::from_std(held).expect("listener");
                gateway::App::build_on(config, listener).await
            }
            // A restart: the port was just freed by the gateway stopped before.
            None => gateway::App::build(config).await,
        }
        .expect("gateway starts");
        self.gateway = Some(Running::spawn(|t| app.run(t)));
    }

    /// The gateway registers the webhook with (fake) Telegram at start-up.
    async fn wait_for_webhook(&self) {
        for _ in 0..100 {
            if self.tg.webhook_url().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the gateway never called setWebhook");
    }

    /// A URL through nginx (plain HTTP port).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.nginx.http_url(), path)
    }

    /// POSTs a raw update body to the webhook through nginx.
    pub async fn post_update(
        &self,
        body: impl Into<reqwest::Body>,
        secret: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url("/webhook"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = secret {
            req = req.header(gateway::SECRET_HEADER, s);
        }
        req.send().await.expect("request through nginx")
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(self.url(path))
            .send()
            .await
            .expect("GET through nginx");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Bot replies (sendMessage & co.) recorded by the fake Telegram for a chat.
    pub fn replies_to(&self, chat_id: i64) -> Vec<sandbox::telegram::RecordedCall> {
        self.tg.messages_to(chat_id)
    }

    /// Waits until `chat_id` has received at least `n` replies.
    pub async fn wait_replies(
        &self,
        chat_id: i64,
        n: usize,
    ) -> Vec<sandbox::telegram::RecordedCall> {
        for _ in 0..200 {
            let r = self.replies_to(chat_id);
            if r.len() >= n {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "chat {chat_id} got {} replies, wanted {n}",
            self.replies_to(chat_id).len()
        );
    }

    pub async fn user_exists(&self, id: i64) -> bool {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("count users")
            == 1
    }

    pub async fn stop(mut self) {
        if let Some(g) = self.gateway.take() {
            g.stop().await;
        }
        for s in [self.bot.take(), self.payments.take(), self.broadcast.take()]
            .into_iter()
            .flatten()
        {
            s.stop().await;
        }
    }
}

impl Fleet {
    /// The text of every message the chat received, in order.
    pub fn texts_to(&self, chat_id: i64) -> Vec<String> {
        self.replies_to(chat_id)
            .iter()
            .map(|c| c.params["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Waits for a message to the chat containing `needle`; returns it.
    pub async fn wait_text(&self, chat_id: i64, needle: &str) -> sandbox::telegram::RecordedCall {
        for _ in 0..300 {
            if let Some(c) = self.replies_to(chat_id).into_iter().find(|c| {
                c.params["text"]
                    .as_str()
                    .is_some_and(|t| t.contains(needle))
            }) {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "chat {chat_id} never got {needle:?}; it got {:#?}",
            self.texts_to(chat_id)
        );
    }

    /// The user sends a text and gets (at least) one more reply, which is returned.
    pub async fn say(&self, u: &TgUser, text: &str) -> sandbox::telegram::RecordedCall {
        let before = self.replies_to(u.id).len();
        let d = self.tg.user_sends(u, text).await.expect("webhook set");
        assert!(d.delivered, "{text:?} not delivered: {:?}", d.attempts);
        self.wait_replies(u.id, before + 1).await[before].clone()
    }

    /// The user presses a button under `message` and gets one more reply.
    pub async fn press(
        &self,
        u: &TgUser,
        message: &sandbox::telegram::RecordedCall,
        data: &str,
    ) -> sandbox::telegram::RecordedCall {
        let before = self.replies_to(u.id).len();
        let id = message_id(message);
        let d = self
            .tg
            .user_presses(u, id, data)
            .await
            .expect("webhook set");
        assert!(
            d.delivered,
            "press {data:?} not delivered: {:?}",
            d.attempts
        );
        self.wait_replies(u.id, before + 1).await[before].clone()
    }

    /// Walks the menu to an order of `stars` (a pack) and returns the order id.
    pub async fn order_pack(&self, u: &TgUser, stars: i64) -> String {
        let welcome = self.say(u, "/start").await;
        let packs = self.press(u, &welcome, "menu:buy").await;
        assert!(
            button_data(&packs).contains(&format!("buy:{stars}")),
            "{:?}",
            button_data(&packs)
        );
        let order = self.press(u, &packs, &format!("buy:{stars}")).await;
        order_id_of(&order)
    }

    pub async fn balance_of(&self, user_id: i64) -> i64 {
        sqlx::query_scalar("SELECT COALESCE(SUM(delta), 0)::BIGINT FROM ledger WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn orders_of(&self, user_id: i64) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub fn callback_url(&self) -> String {
        format!("{}/heleket/webhook", self.nginx.https_url())
    }
}

pub fn message_id(c: &sandbox::telegram::RecordedCall) -> i64 {
    c.response["result"]["message_id"]
        .as_i64()
        .expect("a sent message has an id")
}

/// The callback_data of every button of a sent message.
pub fn button_data(c: &sandbox::telegram::RecordedCall) -> Vec<String> {
    c.params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["callback_data"].as_str().map(str::to_string))
        .collect()
}

/// The order id behind the "check status" button of an order message.
pub fn order_id_of(c: &sandbox::telegram::RecordedCall) -> String {
    button_data(c)
        .iter()
        .find_map(|d| d.strip_prefix("chk:").map(str::to_string))
        .unwrap_or_else(|| panic!("not an order message: {}", c.params))
}

pub fn user(id: i64) -> TgUser {
    TgUser::new(id, "Ann").with_language("en")
}

/// A Telegram `message` update as Telegram would send it.
pub fn message_update(update_id: i64, user_id: i64, text: &str) -> serde_json::Value {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": user_id, "is_bot": false, "first_name": "Ann", "language_code": "en"},
            "chat": {"id": user_id, "type": "private", "first_name": "Ann"},
            "date": 1_763_700_000,
            "text": text,
            "entities": if text.starts_with('/') {
                serde_json::json!([{"type": "bot_command", "offset": 0, "length": text.split(' ').next().unwrap().len()}])
            } else { serde_json::json!([]) }
        }
    })
}

/// What the fleet logs, captured (and still echoed to stderr).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        std::io::stderr().write_all(b)?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Installs the fleet's subscriber writing here. nextest runs each test in
    /// its own process, so this runs before `Fleet::start` (whose init is then a no-op).
    pub fn install() -> Logs {
        let logs = Logs::default();
        let w = logs.clone();
        runtime::telemetry::init_with_writer("e2e", "info,sqlx=warn,fred=warn", None, move || {
            w.clone()
        })
        .expect("telemetry");
        logs
    }

    pub fn lines(&self) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every captured line `pick` selects; panics when there is none.
    pub fn matching(
        &self,
        what: &str,
        pick: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let found: Vec<_> = self.lines().into_iter().filter(|l| pick(l)).collect();
        assert!(!found.is_empty(), "no log line {what} was captured");
        found
    }
}

//! The admin API through nginx (`/admin/api/v1`), against real Postgres and
//! Redis: sign-in, token rotation and revocation, lockout, the role matrix,
//! the audit log, and the customer and order lists.

use reqwest::{Method, StatusCode};
use runtime::config::Env;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::net::SocketAddr;
use testkit::nginx::{Nginx, NginxOptions};
use testkit::postgres::TestDb;
use testkit::redis::RedisTrio;

use crate::harness::{API_KEY, MERCHANT, Running, TOKEN};
use sandbox::heleket::{FakeHeleket, HeleketOptions};
use sandbox::telegram::{FakeTelegram, TelegramOptions};

pub const OWNER: &str = "owner@shop";
pub const OWNER_PW: &str = "owner-password-1234";

/// The admin service behind nginx, with the broadcast service it drives and
/// the sandbox's Telegram that one sends to.
pub struct Admin {
    _db: TestDb,
    _redis: RedisTrio,
    pub pool: PgPool,
    nginx: Nginx,
    http: reqwest::Client,
    pub tg: FakeTelegram,
    _heleket: FakeHeleket,
    service: Option<Running>,
    broadcast: Option<Running>,
    payments: Option<Running>,
}

impl Admin {
    pub async fn start() -> Admin {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut Env)) -> Admin {
        runtime::telemetry::init("e2e", "info,sqlx=warn,fred=warn", None).expect("telemetry");
        runtime::http::install_crypto();
        let redis = RedisTrio::start().await.expect("redis");
        let db = testkit::postgres::fresh_database().await.expect("db");
        let mut env = Env::from_pairs([
            ("ENVIRONMENT", "development".to_string()),
            ("DATABASE_URL", db.url.clone()),
            ("ADMIN_LISTEN", "127.0.0.1:0".to_string()),
            (
                "ADMIN_JWT_SECRET",
                "e2e-admin-signing-key-0123456789abcdef".to_string(),
            ),
            ("ADMIN_OWNER_LOGIN", OWNER.to_string()),
            ("ADMIN_OWNER_PASSWORD", OWNER_PW.to_string()),
            ("REDIS_SOCKET_TIMEOUT", "1".to_string()),
            // A fresh prefix per test: the login limiter is per address and
            // every test comes from 127.0.0.1.
            ("REDIS_KEY_PREFIX", format!("e2e:{}:", uuid_like())),
        ]);
        for (k, v) in redis.env_pairs() {
            env.set(&k, v);
        }
        let tg = FakeTelegram::start(TelegramOptions::default())
            .await
            .expect("fake telegram");
        env.set("TELEGRAM_TOKEN", TOKEN.to_string());
        env.set("TELEGRAM_API_BASE", tg.base_url());
        env.set("BROADCAST_LISTEN", "127.0.0.1:0".to_string());
        env.set("BROADCAST_POLL_INTERVAL", "0.1".to_string());
        let heleket = FakeHeleket::start(HeleketOptions {
            merchant: MERCHANT.into(),
            api_key: API_KEY.into(),
            port: 0,
        })
        .await
        .expect("fake heleket");
        env.set("HELEKET_API_BASE", heleket.base_url());
        env.set("MERCHANT_UUID", MERCHANT.to_string());
        env.set("API_KEY", API_KEY.to_string());
        env.set("PAYMENTS_LISTEN", "127.0.0.1:0".to_string());
        env.set("RECONCILE_INTERVAL", "3600".to_string());
        tweak(&mut env);
        let payments =
            payments::App::build(payments::Config::from_env(&env).expect("payments config"))
                .await
                .expect("payments starts");
        env.set(
            "PAYMENTS_GRPC_URL",
            format!("http://127.0.0.1:{}", payments.port()),
        );
        let payments = Running::spawn(|t| payments.run(t));
        let broadcast =
            broadcast::App::build(broadcast::Config::from_env(&env).expect("broadcast config"))
                .await
                .expect("broadcast starts");
        env.set(
            "BROADCAST_GRPC_URL",
            format!("http://127.0.0.1:{}", broadcast.port()),
        );
        let broadcast = Running::spawn(|t| broadcast.run(t));
        let app = admin::App::build(admin::Config::from_env(&env).expect("admin config"))
            .await
            .expect("admin starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], app.port()));
        let service = Running::spawn(|t| app.run(t));
        // No gateway: only /admin/ is under test (a closed port stands in).
        let nginx = Nginx::start_with(
            SocketAddr::from(([127, 0, 0, 1], 9)),
            NginxOptions::new("/webhook")
                .trusting_nobody()
                .with_admin(addr),
        )
        .await
        .expect("nginx");
        let pool = PgPool::connect(&db.url).await.expect("pool");
        Admin {
            _db: db,
            _redis: redis,
            pool,
            nginx,
            http: reqwest::Client::new(),
            tg,
            _heleket: heleket,
            service: Some(service),
            broadcast: Some(broadcast),
            payments: Some(payments),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/admin/api/v1{path}", self.nginx.http_url())
    }

    /// nginx's plain-HTTP base URL (the console lives under `/admin/`).
    pub fn base(&self) -> String {
        self.nginx.http_url()
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request through nginx");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A request through nginx, to read the answer as it streams.
    pub fn request(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
    }

    /// The answer's status, content type and body text.
    pub async fn text(&self, req: reqwest::RequestBuilder) -> (StatusCode, String, String) {
        let resp = req.send().await.expect("request through nginx");
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, ctype, resp.text().await.unwrap_or_default())
    }

    pub async fn login(&self, login: &str, password: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "login": login, "password": password })),
        )
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/auth/refresh",
            None,
            Some(json!({ "refresh_token": refresh_token })),
        )
        .await
    }

    pub async fn token(&self, login: &str, password: &str) -> String {
        let (st, body) = self.login(login, password).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_string()
    }

    /// An admin of `role` created by the owner; returns a token of theirs.
    pub async fn admin_with_role(&self, owner: &str, role: &str) -> String {
        let login = format!("{role}@shop");
        let pw = format!("{role}-password-1234");
        let (st, body) = self
            .call(
                Method::POST,
                "/admins",
                Some(owner),
                Some(json!({ "login": login, "password": pw, "role": role })),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        self.token(&login, &pw).await
    }

    /// How many campaigns are stored.
    pub async fn campaigns(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM campaigns")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.service.take() {
            s.stop().await;
        }
        for s in [self.broadcast.take(), self.payments.take()]
            .into_iter()
            .flatten()
        {
            s.stop().await;
        }
    }
}

fn uuid_like() -> String {
    format!("{:x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    t ^ (std::process::id() as u64) << 32
}

/// (method, documented path, path called, body, the status an allowed role gets).
type Endpoint = (Method, &'static str, String, Option<Value>, StatusCode);

#[tokio::test]
async fn every_endpoint_answers_each_role_exactly_as_allowed() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    let marketing = a.admin_with_role(&owner, "marketing").await;
    let support = a.admin_with_role(&owner, "support").await;
    let readonly = a.admin_with_role(&owner, "readonly").await;
    sqlx::query("INSERT INTO users (id, first_name, username) VALUES (501, 'Ann', 'ann')")
        .execute(&a.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO orders (id, user_id, chat_id, stars, amount, currency, status, credited_at)
         VALUES ('00000000-0000-4000-8000-000000000501', 501, 501, 100, 1.5, 'USDT', 'paid', now())",
    )
    .execute(&a.pool)
    .await
    .unwrap();
    // A victim for the owner's changes, re-created before each owner call.
    let (_, victim) = a
        .call(
            Method::POST,
            "/admins",
            Some(&owner),
            Some(json!({ "login": "victim@shop", "password": "victim-password-12", "role": "readonly" })),
        )
        .await;
    let victim = victim["id"].as_i64().unwrap();

    // A campaign to look at: sent to nobody yet, cancelled, so its event
    // stream ends after one event instead of staying open.
    let (st, campaign) = a
        .call(
            Method::POST,
            "/campaigns",
            Some(&owner),
            Some(json!({"content": {"text": "Hi"}, "audience": {"segment": "all"}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{campaign}");
    let cid = campaign["id"].as_str().unwrap().to_string();
    let (st, _) = a
        .call(
            Method::POST,
            &format!("/campaigns/{cid}/cancel"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);

    use StatusCode as S;
    // (method, the documented path, the path called, body, the answer an allowed role gets).
    // Who is allowed comes from the OpenAPI document's x-roles: the server must
    // agree with what it documents.
    let endpoints: Vec<Endpoint> = vec![
        (Method::GET, "/me", "/me".into(), None, S::OK),
        (Method::GET, "/admins", "/admins".into(), None, S::OK),
        (
            Method::POST,
            "/admins",
            "/admins".into(),
            Some(
                json!({ "login": "new-{role}", "password": "a-new-password-12", "role": "readonly" }),
            ),
            S::CREATED,
        ),
        (
            Method::PATCH,
            "/admins/{id}",
            format!("/admins/{victim}"),
            Some(json!({ "role": "support" })),
            S::NO_CONTENT,
        ),
        (Method::GET, "/users", "/users".into(), None, S::OK),
        (Method::GET, "/users.csv", "/users.csv".into(), None, S::OK),
        (Method::GET, "/users/{id}", "/users/501".into(), None, S::OK),
        (
            Method::POST,
            "/users/{id}/notes",
            "/users/501/notes".into(),
            Some(json!({"text": "called about a refund ({role})"})),
            S::CREATED,
        ),
        (Method::GET, "/orders", "/orders".into(), None, S::OK),
        (
            Method::GET,
            "/orders.csv",
            "/orders.csv".into(),
            None,
            S::OK,
        ),
        // The order is paid: allowed roles reach payments and hear why not.
        (
            Method::POST,
            "/orders/{id}/resend-link",
            "/orders/00000000-0000-4000-8000-000000000501/resend-link".into(),
            None,
            S::CONFLICT,
        ),
        (Method::GET, "/kpis", "/kpis".into(), None, S::OK),
        (Method::GET, "/audit", "/audit".into(), None, S::OK),
        (Method::GET, "/audit.csv", "/audit.csv".into(), None, S::OK),
        (Method::GET, "/campaigns", "/campaigns".into(), None, S::OK),
        (
            Method::GET,
            "/campaigns/{id}",
            format!("/campaigns/{cid}"),
            None,
            S::OK,
        ),
        (
            Method::GET,
            "/campaigns/{id}/events",
            format!("/campaigns/{cid}/events"),
            None,
            S::OK,
        ),
        (
            Method::GET,
            "/campaigns/{id}/recipients.csv",
            format!("/campaigns/{cid}/recipients.csv"),
            None,
            S::OK,
        ),
        (
            Method::POST,
            "/audiences/count",
            "/audiences/count".into(),
            Some(json!({"segment": "all"})),
            S::OK,
        ),
        // A "file" of five bytes, sent to chat 501 to get its file_id.
        (
            Method::POST,
            "/media",
            "/media?kind=photo&chat_id=501&name=a.png".into(),
            Some(json!("img")),
            S::OK,
        ),
        // The raw body "501" (JSON's quotes are allowed around an id).
        (
            Method::POST,
            "/audiences/ids",
            "/audiences/ids".into(),
            Some(json!("501")),
            S::OK,
        ),
        (
            Method::POST,
            "/campaigns",
            "/campaigns".into(),
            Some(json!({"content": {"text": "Hi"}, "audience": {"segment": "buyers"}})),
            S::CREATED,
        ),
        (
            Method::POST,
            "/campaigns/{id}/preview",
            format!("/campaigns/{cid}/preview"),
            Some(json!({"chat_id": 501})),
            S::OK,
        ),
        // A cancelled campaign cannot resume: allowed roles reach the
        // broadcast service and hear why; the others never get that far.
        (
            Method::POST,
            "/campaigns/{id}/{action}",
            format!("/campaigns/{cid}/resume"),
            None,
            S::CONFLICT,
        ),
        (
            Method::DELETE,
            "/admins/{id}",
            format!("/admins/{victim}"),
            None,
            S::NO_CONTENT,
        ),
    ];
    // The document, public, and every operation in it is in the matrix (sign-in,
    // refresh and sign-out have tests of their own).
    let (st, doc) = a.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let mut covered: std::collections::BTreeSet<String> = endpoints
        .iter()
        .map(|(m, template, ..)| format!("{m} {template}"))
        .collect();
    covered.extend(
        [
            "POST /auth/login",
            "POST /auth/refresh",
            "POST /auth/logout",
        ]
        .map(String::from),
    );
    assert_eq!(
        documented, covered,
        "the matrix covers every documented operation"
    );
    let allowed_of = |method: &Method, template: &str| -> Vec<String> {
        doc["paths"][template][method.as_str().to_lowercase()]["x-roles"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {template} documents no x-roles"))
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    let callers = [
        ("marketing", Some(marketing.as_str())),
        ("support", Some(support.as_str())),
        ("readonly", Some(readonly.as_str())),
        ("nobody", None),
        (
            "a forged token",
            Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
        ),
        // The owner last: its DELETE removes the victim.
        ("owner", Some(owner.as_str())),
    ];
    let mut wrong = Vec::new();
    for (method, template, path, body, success) in &endpoints {
        let allowed = allowed_of(method, template);
        for (role, token) in callers {
            // nginx allows one address 10 admin requests/s (burst 40).
            tokio::time::sleep(std::time::Duration::from_millis(120)).await;
            let body = body
                .as_ref()
                .map(|b| serde_json::from_str(&b.to_string().replace("{role}", role)).unwrap());
            let (st, reply) = a.call(method.clone(), path, token, body).await;
            let expected = match token {
                None => StatusCode::UNAUTHORIZED,
                Some(_) if role == "a forged token" => StatusCode::UNAUTHORIZED,
                Some(_) if allowed.iter().any(|r| r == role) => *success,
                Some(_) => StatusCode::FORBIDDEN,
            };
            if st != expected {
                wrong.push(format!(
                    "{method} {path} as {role}: {st} (expected {expected}) {reply}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "role matrix:\n{}", wrong.join("\n"));
    // Refusals changed nothing: only the owner's calls are in the audit log.
    let actions = a.audit_actions().await;
    assert_eq!(
        actions.iter().filter(|x| *x == "admin.create").count(),
        1 + 3 + 1 + 1,
        "first owner, three roles, the victim and the owner's POST: {actions:?}"
    );
    assert_eq!(actions.iter().filter(|x| *x == "admin.set_role").count(), 1);
    assert_eq!(actions.iter().filter(|x| *x == "admin.remove").count(), 1);
    let count = |name: &str| actions.iter().filter(|x| *x == name).count();
    assert_eq!(
        count("campaign.create"),
        1 + 2,
        "the owner's first, then owner and marketing"
    );
    assert_eq!(count("campaign.preview"), 2);
    assert_eq!(count("customer.note"), 2, "owner and support");
    assert_eq!(count("order.resend_link"), 0, "the refusals wrote nothing");
    assert_eq!((count("campaign.cancel"), count("campaign.resume")), (1, 0));
    assert_eq!(count("media.upload"), 2);
    let to_501: Vec<String> =
        a.tg.messages_to(501)
            .iter()
            .map(|c| c.method.clone())
            .collect();
    assert_eq!(
        to_501.iter().filter(|m| *m == "sendMessage").count(),
        2,
        "one preview per allowed role: {to_501:?}"
    );
    assert_eq!(
        to_501.iter().filter(|m| *m == "sendPhoto").count(),
        2,
        "one upload each"
    );
    a.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_refresh_token_ends_the_session() {
    let a = Admin::start().await;
    let (st, first) = a.login(OWNER, OWNER_PW).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    assert_eq!(first["role"], "owner");
    assert_eq!(first["token_type"], "Bearer");
    let refresh1 = first["refresh_token"].as_str().unwrap().to_string();

    let (st, second) = a.refresh(&refresh1).await;
    assert_eq!(st, StatusCode::OK, "{second}");
    let refresh2 = second["refresh_token"].as_str().unwrap().to_string();
    let access2 = second["access_token"].as_str().unwrap().to_string();
    assert_ne!(refresh1, refresh2, "the refresh token rotates");
    let (st, me) = a.call(Method::GET, "/me", Some(&access2), None).await;
    assert_eq!((st, me["login"].as_str()), (StatusCode::OK, Some(OWNER)));

    // Someone replays the first refresh token: refused, and the session ends,
    // so the legitimate holder's tokens stop working too.
    let (st, _) = a.refresh(&refresh1).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = a.call(Method::GET, "/me", Some(&access2), None).await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "the session's access token is revoked"
    );
    let (st, _) = a.refresh(&refresh2).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "and its newest refresh token");
    assert!(
        a.audit_actions()
            .await
            .contains(&"auth.refresh_reused".to_string())
    );
    a.stop().await;
}

#[tokio::test]
async fn sign_out_and_removal_revoke_tokens_at_once() {
    let a = Admin::start().await;
    let (_, tokens) = a.login(OWNER, OWNER_PW).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let (st, _) = a
        .call(Method::POST, "/auth/logout", Some(&access), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = a.call(Method::GET, "/me", Some(&access), None).await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "a signed-out access token is refused"
    );
    let (st, _) = a.refresh(&refresh).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "and so is its refresh token");

    // An owner removes another admin: that admin's live token is refused at the next request.
    let owner = a.token(OWNER, OWNER_PW).await;
    let support = a.admin_with_role(&owner, "support").await;
    let (_, me) = a.call(Method::GET, "/me", Some(&support), None).await;
    let id = me["id"].as_i64().unwrap();
    let (st, _) = a
        .call(Method::DELETE, &format!("/admins/{id}"), Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = a.call(Method::GET, "/users", Some(&support), None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = a.login("support@shop", "support-password-1234").await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "a removed admin cannot sign in"
    );

    // The last owner can be neither removed nor demoted.
    let (_, me) = a.call(Method::GET, "/me", Some(&owner), None).await;
    let owner_id = me["id"].as_i64().unwrap();
    let (st, body) = a
        .call(
            Method::DELETE,
            &format!("/admins/{owner_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    let (st, _) = a
        .call(
            Method::PATCH,
            &format!("/admins/{owner_id}"),
            Some(&owner),
            Some(json!({ "role": "readonly" })),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    a.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account() {
    let a = Admin::start_with(|e| {
        e.set("ADMIN_LOGIN_MAX_FAILURES", "3");
    })
    .await;
    // An unknown login and a wrong password look the same.
    let (st_unknown, b1) = a.login("nobody@shop", "whatever-password").await;
    let (st_wrong, b2) = a.login(OWNER, "wrong-password-123").await;
    assert_eq!(
        (st_unknown, st_wrong),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(b1, b2);
    a.login(OWNER, "wrong-password-123").await;
    let (st, body) = a.login(OWNER, "wrong-password-123").await;
    assert_eq!(
        st,
        StatusCode::TOO_MANY_REQUESTS,
        "the third failure locks: {body}"
    );
    // Locked: even the right password is refused, with the reason.
    let (st, body) = a.login(OWNER, OWNER_PW).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert!(body["error"].as_str().unwrap().contains("locked"), "{body}");
    let actions = a.audit_actions().await;
    assert!(actions.contains(&"auth.locked".to_string()), "{actions:?}");
    assert!(
        actions.contains(&"auth.login_locked".to_string()),
        "{actions:?}"
    );
    let secrets: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE details::text LIKE '%password%' OR target LIKE '%password%'",
    )
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert_eq!(secrets, 0, "no password, right or wrong, is written down");

    a.stop().await;
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address_whatever_it_claims() {
    let a = Admin::start_with(|e| {
        e.set("ADMIN_LOGIN_PER_MINUTE", "3");
    })
    .await;
    // Three a minute from 127.0.0.1, whatever the login; a spoofed
    // X-Forwarded-For does not make a new address.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let resp = a
            .http
            .post(a.url("/auth/login"))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .json(&json!({ "login": format!("other{i}@shop"), "password": "whatever-password" }))
            .send()
            .await
            .unwrap();
        let retry = resp.headers().get("retry-after").is_some();
        statuses.push((resp.status().as_u16(), retry));
    }
    assert_eq!(
        statuses,
        [(401, false), (401, false), (401, false), (429, true)]
    );
    // The owner, from the same address, waits too: the limit is on the address.
    let (st, _) = a.login(OWNER, OWNER_PW).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    a.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_the_reason_and_changes_nothing() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    let before = a.audit_actions().await.len();
    let cases = [
        (
            json!({ "login": "x@shop", "password": "long-enough-pass", "role": "readonly", "admin": true }),
            "unknown field",
        ),
        (
            json!({ "login": "x@shop", "password": "long-enough-pass", "role": "root" }),
            "unknown variant",
        ),
        (
            json!({ "login": "x@shop", "password": 12, "role": "readonly" }),
            "invalid type",
        ),
        (
            json!({ "login": "x@shop", "password": "short", "role": "readonly" }),
            "at least 12",
        ),
        (
            json!({ "login": "a b", "password": "long-enough-pass", "role": "readonly" }),
            "login must be",
        ),
    ];
    for (body, reason) in cases {
        let (st, reply) = a
            .call(Method::POST, "/admins", Some(&owner), Some(body.clone()))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body} -> {reply}");
        assert!(
            reply["error"].as_str().unwrap_or_default().contains(reason),
            "{body} -> {reply}"
        );
    }
    let (st, reply) = a
        .call(Method::GET, "/orders?status=stolen", Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{reply}");
    let (st, reply) = a
        .call(Method::GET, "/users?limit=100000", Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{reply}");
    let (st, _) = a
        .call(Method::GET, "/orders?after=garbage", Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = a
        .call(Method::GET, "/nothing-here", Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM admins")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(admins, 1, "nothing was created");
    assert_eq!(
        a.audit_actions().await.len(),
        before,
        "and nothing audited as done"
    );
    a.stop().await;
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_says_who_what_and_from_where() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    a.admin_with_role(&owner, "marketing").await;
    let (st, page) = a
        .call(
            Method::GET,
            "/audit?action=admin.create",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    let newest = &page["items"][0];
    assert_eq!(
        newest["actor"].as_str().unwrap().split(' ').nth(1),
        Some(OWNER),
        "{newest}"
    );
    assert_eq!(newest["details"]["role"], "marketing");
    assert_eq!(newest["address"], "127.0.0.1", "the address nginx saw");
    // Not even the database owner can rewrite or delete it.
    for sql in [
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
    ] {
        let err = sqlx::query(sql).execute(&a.pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    // Pages: newest first, `before` continues without overlap.
    let (_, p1) = a
        .call(Method::GET, "/audit?limit=2", Some(&owner), None)
        .await;
    let next = p1["next"].as_i64().expect("a second page");
    let (_, p2) = a
        .call(
            Method::GET,
            &format!("/audit?limit=2&before={next}"),
            Some(&owner),
            None,
        )
        .await;
    let ids = |p: &Value| -> Vec<i64> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let (i1, i2) = (ids(&p1), ids(&p2));
    assert!(
        i1.windows(2).all(|w| w[0] > w[1]) && i2.iter().all(|i| *i < i1[1]),
        "{i1:?} {i2:?}"
    );
    a.stop().await;
}

#[tokio::test]
async fn customers_and_orders_are_searched_and_paged_by_key() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    for i in 1..=25i64 {
        let name = if i % 5 == 0 {
            format!("Maria{i}")
        } else {
            format!("User{i}")
        };
        sqlx::query("INSERT INTO users (id, first_name, username) VALUES ($1, $2, $3)")
            .bind(1000 + i)
            .bind(&name)
            .bind(format!("user_{i}"))
            .execute(&a.pool)
            .await
            .unwrap();
    }
    // Pages of 10 cover all 25 once, in id order.
    let mut seen = Vec::new();
    let mut path = "/users?limit=10".to_string();
    loop {
        let (st, page) = a.call(Method::GET, &path, Some(&owner), None).await;
        assert_eq!(st, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_i64().unwrap()),
        );
        match page["next"].as_i64() {
            Some(n) => path = format!("/users?limit=10&after={n}"),
            None => break,
        }
    }
    assert_eq!(seen, (1001..=1025).collect::<Vec<_>>());
    // Search: a first-name prefix, an @username, an id; LIKE wildcards are literal.
    let found = |p: Value| -> Vec<i64> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect()
    };
    let (_, p) = a
        .call(Method::GET, "/users?q=maria", Some(&owner), None)
        .await;
    assert_eq!(found(p), [1005, 1010, 1015, 1020, 1025]);
    let (_, p) = a
        .call(Method::GET, "/users?q=@user_12", Some(&owner), None)
        .await;
    assert_eq!(found(p), [1012]);
    let (_, p) = a
        .call(Method::GET, "/users?q=1007", Some(&owner), None)
        .await;
    assert_eq!(found(p), [1007]);
    let (_, p) = a
        .call(Method::GET, "/users?q=%25", Some(&owner), None)
        .await;
    assert_eq!(found(p), Vec::<i64>::new());

    // A paid and a pending order of user 1003, and the ledger entry of the paid one.
    let paid = "11111111-1111-4111-8111-111111111111";
    let pending = "22222222-2222-4222-8222-222222222222";
    for (id, status, age) in [(paid, "paid", 60), (pending, "pending", 0)] {
        sqlx::query(
            "INSERT INTO orders (id, user_id, chat_id, stars, amount, currency, status, created_at)
             VALUES ($1::uuid, 1003, 1003, 100, 1.50, 'USDT', $2, now() - make_interval(secs => $3))",
        )
        .bind(id)
        .bind(status)
        .bind(age as f64)
        .execute(&a.pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO ledger (user_id, order_id, delta, reason) VALUES (1003, $1::uuid, 100, 'purchase')")
        .bind(paid)
        .execute(&a.pool)
        .await
        .unwrap();
    let (st, user) = a.call(Method::GET, "/users/1003", Some(&owner), None).await;
    assert_eq!(st, StatusCode::OK, "{user}");
    assert_eq!(user["balance"], 100);
    assert_eq!(user["orders"].as_array().unwrap().len(), 2);
    assert_eq!(
        user["orders"][0]["amount"], "1.5",
        "money as a decimal string"
    );
    let (_, only_paid) = a
        .call(Method::GET, "/orders?status=paid", Some(&owner), None)
        .await;
    assert_eq!(only_paid["items"].as_array().unwrap().len(), 1);
    assert_eq!(only_paid["items"][0]["id"], paid);
    // Newest first, one per page, the cursor continuing.
    let (_, p1) = a
        .call(Method::GET, "/orders?limit=1", Some(&owner), None)
        .await;
    assert_eq!(p1["items"][0]["id"], pending);
    let next = p1["next"].as_str().unwrap().to_string();
    let (_, p2) = a
        .call(
            Method::GET,
            &format!("/orders?limit=1&after={next}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(p2["items"][0]["id"], paid);
    assert!(p2["next"].is_null());
    let (st, _) = a
        .call(Method::GET, "/users/999999", Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    a.stop().await;
}

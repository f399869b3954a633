//! `/health` and its parts, through nginx.

use crate::harness::Fleet;
use std::time::Duration;

#[tokio::test]
async fn health_names_every_component_and_is_200_when_all_are_up() {
    let fleet = Fleet::start().await;
    let (status, body) = fleet.get("/health").await;
    assert_eq!(status, 200, "{body}");
    for c in [
        "db",
        "redis",
        "bot",
        "payments",
        "broadcast",
        "payment",
        "webhook",
    ] {
        assert_eq!(
            body["components"][c]["status"], "up",
            "component {c}: {body}"
        );
    }
    // What Telegram says about the webhook, for an operator.
    let webhook = &body["components"]["webhook"]["details"];
    assert_eq!(
        webhook["url"].as_str(),
        fleet.tg.webhook_url().as_deref(),
        "{webhook}"
    );
    assert_eq!(webhook["pending_update_count"], 0);
    let (status, body) = fleet.get("/health/db").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("up")));
    let (status, body) = fleet.get("/health/redis").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("up")));
    let (status, body) = fleet.get("/health/payment").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["detail"]["details"]["circuit_breaker"], "closed");
    fleet.stop().await;
}

#[tokio::test]
async fn redis_master_down_makes_health_503_and_it_recovers() {
    let mut fleet = Fleet::start().await;
    fleet.redis.stop_master().await.unwrap();

    let (status, body) = fleet.get("/health").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["components"]["redis"]["status"], "down");
    let why = body["components"]["redis"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        why.contains("master"),
        "the reason names the master: {body}"
    );
    // Replicas are still reported up: reads keep working from them.
    let replicas = &body["components"]["redis"]["details"]["replicas"];
    assert!(
        replicas.as_array().unwrap().iter().all(|r| r["up"] == true),
        "{replicas}"
    );
    let (status, _) = fleet.get("/health/redis").await;
    assert_eq!(status, 503);

    // An update cannot be deduplicated without the master: Telegram must retry.
    let u = crate::harness::message_update(9101, 1101, "/start").to_string();
    let r = fleet.post_update(u, Some(crate::harness::SECRET)).await;
    assert_eq!(r.status(), 503);

    fleet.redis.start_master().await.unwrap();
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..60 {
        last = fleet.get("/health").await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(last.0, 200, "recovered: {}", last.1);
    fleet.stop().await;
}

#[tokio::test]
async fn a_stopped_service_is_named_in_health() {
    let mut fleet = Fleet::start().await;
    fleet.stop_bot().await;
    let (status, body) = fleet.get("/health").await;
    assert_eq!(status, 503);
    assert_eq!(body["components"]["bot"]["status"], "down", "{body}");
    assert_eq!(body["components"]["payments"]["status"], "up");
    fleet.stop().await;
}

#[tokio::test]
async fn metrics_are_exposed_in_prometheus_format() {
    let fleet = Fleet::start().await;
    fleet
        .tg
        .user_sends(&crate::harness::user(1102), "/start")
        .await
        .unwrap();
    let text = fleet
        .http
        .get(fleet.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("gateway_updates_total"), "{text}");
    assert!(text.contains("http_requests_total"));
    fleet.stop().await;
}

/// Connections each Redis node has accepted since it started.
async fn connections_received(fleet: &Fleet, port: u16) -> i64 {
    let info = fleet.redis.command(port, &["INFO", "stats"]).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO stats has total_connections_received")
}

/// An idle fleet is quiet: no Redis node or Sentinel sees a new connection and no
/// service logs a warning while nothing happens (fred's unresponsive-
/// connection check used to reconnect every idle connection once per socket
/// timeout, dozens a second per node, each with a warning).
#[tokio::test]
async fn an_idle_fleet_opens_no_new_redis_connections_and_logs_no_warning() {
    let logs = crate::harness::Logs::install();
    // As deployed: the master found through three Sentinels, which must be
    // left alone as well once it is found.
    let redis = testkit::redis::RedisTrio::start_with_sentinels(None)
        .await
        .expect("redis with sentinels");
    let db = testkit::postgres::fresh_database().await.expect("database");
    let fleet = Fleet::start_on(
        sandbox::telegram::TelegramOptions::default(),
        redis,
        db,
        |_| {},
    )
    .await;
    let mut ports = vec![fleet.redis.master_port()];
    ports.extend(fleet.redis.replica_ports());
    ports.extend(fleet.redis.sentinel_ports());
    // Let every pool finish connecting, then take the baseline.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut before = Vec::new();
    for p in &ports {
        before.push(connections_received(&fleet, *p).await);
    }
    let lines_before = logs.lines().len();
    // Many socket timeouts (REDIS_SOCKET_TIMEOUT is 1 s in the harness).
    tokio::time::sleep(Duration::from_secs(30)).await;
    for (p, b) in ports.iter().zip(before) {
        // Our own INFO command is one connection per call.
        let new = connections_received(&fleet, *p).await - b - 1;
        assert_eq!(
            new, 0,
            "Redis node :{p} saw {new} new connections while idle"
        );
    }
    let warnings: Vec<_> = logs.lines()[lines_before..]
        .iter()
        .filter(|l| matches!(l["level"].as_str(), Some("WARN" | "ERROR")))
        .cloned()
        .collect();
    assert!(warnings.is_empty(), "an idle fleet logged: {warnings:#?}");
    fleet.stop().await;
}

#[tokio::test]
async fn outside_the_ops_allowlist_health_shows_statuses_only_and_metrics_are_refused() {
    // The test client (loopback) plays the internet: only 10.0.0.0/8 is "inside".
    let mut fleet = Fleet::start_with(|env| {
        env.set("OPS_ALLOWED_IPS", "10.0.0.0/8");
    })
    .await;
    fleet.stop_bot().await;
    let (status, body) = fleet.get("/health").await;
    assert_eq!(
        status, 503,
        "the public still learns that something is down"
    );
    assert_eq!(body["components"]["bot"]["status"], "down", "{body}");
    for (name, c) in body["components"].as_object().unwrap() {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert!(
            keys.iter().all(|k| *k == "status" || *k == "critical"),
            "{name} shows internals to the public: {c}"
        );
    }
    for path in ["/health/db", "/health/redis", "/health/payment", "/metrics"] {
        let (status, _) = fleet.get(path).await;
        assert_eq!(status, 403, "{path} is for operators only");
    }
    // Claiming to be inside changes nothing: nginx overwrites X-Real-IP.
    let spoofed = fleet
        .http
        .get(fleet.url("/metrics"))
        .header("X-Real-IP", "10.1.2.3")
        .header("X-Forwarded-For", "10.1.2.3")
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 403);
    fleet.stop().await;
}

#[tokio::test]
async fn an_operator_inside_the_allowlist_sees_the_details() {
    // The default allowlist holds loopback, where the test client is.
    let mut fleet = Fleet::start().await;
    fleet.stop_bot().await;
    let (_, body) = fleet.get("/health").await;
    assert!(
        body["components"]["bot"]["error"].is_string(),
        "the reason is shown to operators: {body}"
    );
    let (status, body) = fleet.get("/health/redis").await;
    assert_eq!(status, 200);
    assert!(body["detail"]["details"]["replicas"].is_array(), "{body}");
    fleet.stop().await;
}

#[tokio::test]
async fn health_shows_telegrams_last_delivery_error_for_the_webhook() {
    let mut fleet = Fleet::start_with(|env| {
        env.set("HEALTH_CHECK_INTERVAL", "1");
    })
    .await;
    // The bot is gone: the gateway answers Telegram 5xx, and Telegram says so.
    fleet.stop_bot().await;
    let _ = fleet
        .tg
        .user_sends(&crate::harness::user(1103), "/start")
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = fleet.get("/health").await;
        let w = &body["components"]["webhook"];
        if w["status"] == "degraded" {
            assert!(w["details"]["last_error_message"].is_string(), "{w}");
            assert!(w["error"].is_string(), "the reason is named: {w}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never degraded: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    fleet.stop().await;
}

#[tokio::test]
async fn a_self_signed_certificate_is_uploaded_with_set_webhook() {
    let mut fleet = Fleet::start().await;
    assert_eq!(
        fleet.tg.webhook_info()["has_custom_certificate"],
        false,
        "no SSL_CERT_PATH, nothing uploaded"
    );
    // nginx's certificate is the self-signed one ssl/generate-ssl.sh makes.
    let gateway = fleet.gateway.take().unwrap();
    gateway.stop().await;
    let cert = fleet.nginx.cert_path();
    fleet.env.set("SSL_CERT_PATH", cert.display().to_string());
    fleet.start_gateway().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fleet.tg.webhook_info()["has_custom_certificate"] != true {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the certificate never reached setWebhook: {}",
            fleet.tg.webhook_info()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let upload = fleet
        .tg
        .calls_to("setWebhook")
        .into_iter()
        .next_back()
        .expect("setWebhook");
    assert!(
        upload.params["certificate"]["upload_text"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE"),
        "the PEM itself was uploaded"
    );
    assert!(
        upload.params["allowed_updates"].is_array(),
        "{}",
        upload.params
    );
    // Updates still flow through the re-registered webhook.
    let reply = fleet.say(&crate::harness::user(1104), "/start").await;
    assert!(reply.ok());
    fleet.stop().await;
}

//! The shipped nginx template, run for real in front of an echo upstream that
//! reports what reached it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use testkit::nginx::{Nginx, NginxOptions};

/// An upstream standing in for the gateway: echoes the request as JSON and
/// counts how many requests got through.
struct Echo {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

async fn echo(
    State(hits): State<Arc<AtomicUsize>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    hits.fetch_add(1, Ordering::SeqCst);
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "x_real_ip": h("x-real-ip"),
        "x_forwarded_for": h("x-forwarded-for"),
        "x_forwarded_proto": h("x-forwarded-proto"),
        "secret": h("x-telegram-bot-api-secret-token"),
        "len": body.len(),
    }))
}

async fn start_echo() -> Echo {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .fallback(echo)
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Echo { addr, hits }
}

fn client(nginx: &Nginx) -> reqwest::Client {
    // reqwest is built without a default crypto provider (see stack.md).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(nginx.cert_path()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn proxies_the_public_routes_over_http_and_https() {
    let up = start_echo().await;
    // The stub plays the admin API too.
    let nginx = Nginx::start_with(up.addr, NginxOptions::new("/tg/hook").with_admin(up.addr))
        .await
        .unwrap();
    let c = client(&nginx);

    for base in [nginx.http_url(), nginx.https_url()] {
        for path in ["/health", "/health/db", "/metrics", "/admin/api/campaigns"] {
            let resp = c.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{base}{path}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["path"], path);
        }
        let resp = c
            .post(format!("{base}/tg/hook"))
            .header("X-Telegram-Bot-Api-Secret-Token", "s3cret")
            .body(r#"{"update_id":1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["method"], "POST");
        assert_eq!(body["path"], "/tg/hook");
        assert_eq!(
            body["secret"], "s3cret",
            "Telegram's secret header must pass through"
        );
        let scheme = if base.starts_with("https") {
            "https"
        } else {
            "http"
        };
        assert_eq!(body["x_forwarded_proto"], scheme);

        let resp = c
            .post(format!("{base}/heleket/webhook"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    nginx.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_cannot_spoof_its_ip() {
    let up = start_echo().await;
    let opts = NginxOptions::new("/webhook").trusting_nobody();
    let nginx = Nginx::start_with(up.addr, opts).await.unwrap();
    let c = client(&nginx);

    for base in [nginx.http_url(), nginx.https_url()] {
        let resp = c
            .post(format!("{base}/heleket/webhook"))
            .header("X-Forwarded-For", "31.133.220.8")
            .header("X-Real-IP", "31.133.220.8")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["x_real_ip"], "127.0.0.1", "{body}");
        // Overwritten, not appended to: the client's claim never reaches the gateway.
        assert_eq!(body["x_forwarded_for"], "127.0.0.1", "{body}");
    }
}

#[tokio::test]
async fn a_trusted_proxy_passes_the_client_ip_but_not_a_prepended_fake() {
    let up = start_echo().await;
    // Default options trust loopback, as a load balancer on the same host.
    let nginx = Nginx::start(up.addr, "/webhook").await.unwrap();
    let c = client(&nginx);

    // The client claims 6.6.6.6; the trusted proxy appended the real peer.
    let resp = c
        .post(format!("{}/heleket/webhook", nginx.http_url()))
        .header("X-Forwarded-For", "6.6.6.6, 31.133.220.8")
        .body("{}")
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["x_real_ip"], "31.133.220.8", "{body}");
    assert_eq!(body["x_forwarded_for"], "31.133.220.8", "{body}");
}

#[tokio::test]
async fn body_caps_reject_oversized_requests_with_413() {
    let up = start_echo().await;
    let nginx = Nginx::start(up.addr, "/webhook").await.unwrap();
    let c = client(&nginx);
    let base = nginx.http_url();

    // Within the Telegram cap (1 MiB): passes, whole.
    let resp = c
        .post(format!("{base}/webhook"))
        .body(vec![b'a'; 512 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["len"], 512 * 1024);

    let hits_before = up.hits.load(Ordering::SeqCst);
    let resp = c
        .post(format!("{base}/webhook"))
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Heleket's cap is much smaller (64 KiB).
    let resp = c
        .post(format!("{}/heleket/webhook", nginx.https_url()))
        .body(vec![b'a'; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        hits_before,
        "oversized bodies must not reach the gateway"
    );
}

#[tokio::test]
async fn unknown_paths_are_404_without_touching_the_gateway() {
    let up = start_echo().await;
    let nginx = Nginx::start(up.addr, "/webhook").await.unwrap();
    let c = client(&nginx);

    for path in [
        "/",
        "/nope",
        "/webhook/extra",
        "/heleket",
        "/adminx",
        "/healthz",
    ] {
        let resp = c
            .get(format!("{}{path}", nginx.http_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(up.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn admin_api_is_rate_limited_with_429() {
    let up = start_echo().await;
    let nginx = Nginx::start_with(up.addr, NginxOptions::new("/webhook").with_admin(up.addr))
        .await
        .unwrap();
    let c = client(&nginx);

    // 10 r/s with a burst of 40: 100 back-to-back requests must hit the limit.
    let mut limited = 0;
    for _ in 0..100 {
        let resp = c
            .get(format!("{}/admin/api/stats", nginx.http_url()))
            .send()
            .await
            .unwrap();
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(limited > 0, "no request was rate limited");
    assert!(limited < 100, "the burst must be allowed");
}

/// Sends `n` webhook POSTs as the client `ip` (through the trusted loopback
/// proxy), 4 at a time, and counts the 429s.
async fn webhook_429s(nginx: &Nginx, ip: &str, n: usize) -> usize {
    let c = client(nginx);
    let url = format!("{}/webhook", nginx.http_url());
    let limited = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (c, url, ip, limited) = (c.clone(), url.clone(), ip.to_owned(), limited.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..n / 4 {
                let resp = c
                    .post(&url)
                    .header("X-Forwarded-For", &ip)
                    .body("{}")
                    .send()
                    .await
                    .unwrap();
                match resp.status() {
                    StatusCode::OK => {}
                    StatusCode::TOO_MANY_REQUESTS => {
                        limited.fetch_add(1, Ordering::SeqCst);
                    }
                    other => panic!("unexpected status {other}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    limited.load(Ordering::SeqCst)
}

#[tokio::test]
async fn telegrams_webhook_ranges_are_never_rate_limited_and_others_are() {
    let up = start_echo().await;
    let nginx = Nginx::start(up.addr, "/webhook").await.unwrap();
    // 200 r/s with a burst of 400 per address: 2000 back-to-back requests from
    // one ordinary address must be limited, from Telegram's ranges never.
    assert!(webhook_429s(&nginx, "203.0.113.9", 2000).await > 0);
    assert_eq!(webhook_429s(&nginx, "149.154.167.220", 2000).await, 0);
    assert_eq!(webhook_429s(&nginx, "91.108.6.5", 2000).await, 0);
}

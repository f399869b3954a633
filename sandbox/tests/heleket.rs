//! The fake Heleket over real HTTP: signatures, invoices, failure modes and callbacks.

mod common;

use std::time::Duration;

use sandbox::heleket::{FakeHeleket, HeleketOptions, Mode, sign};
use serde_json::{Value, json};

const KEY: &str = "test-api-key";
const MERCHANT: &str = "8b03432e-385b-4670-8d06-064591096795";

async fn fake() -> FakeHeleket {
    FakeHeleket::start(HeleketOptions {
        merchant: MERCHANT.into(),
        api_key: KEY.into(),
        port: 0,
    })
    .await
    .unwrap()
}

/// Signs the exact bytes it sends, as the payments service must.
async fn call(hk: &FakeHeleket, path: &str, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let signature = sign(&bytes, KEY);
    call_raw(hk, path, bytes, MERCHANT, &signature).await
}

async fn call_raw(
    hk: &FakeHeleket,
    path: &str,
    body: Vec<u8>,
    merchant: &str,
    sign: &str,
) -> (u16, Value) {
    let resp = common::client()
        .post(format!("{}{path}", hk.base_url()))
        .header("merchant", merchant)
        .header("sign", sign)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn invoice_request(order_id: &str) -> Value {
    json!({"amount": "10.28", "currency": "USD", "order_id": order_id,
           "url_callback": "https://example.com/heleket/webhook"})
}

#[test]
fn signing_reference_vectors() {
    assert_eq!(sign(b"", KEY), "6339da7207f32bfc28decb98edf89318");
    assert_eq!(
        sign(
            br#"{"amount":"10.28","currency":"USD","order_id":"order-42"}"#,
            KEY
        ),
        "0358a89304e030cc3102463ce5b94306"
    );
}

#[tokio::test]
async fn create_invoice_with_valid_sign_returns_a_check_invoice() {
    let hk = fake().await;
    let (status, body) = call(&hk, "/v1/payment", &invoice_request("order-1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], 0);
    let result = &body["result"];
    assert_eq!(result["order_id"], "order-1");
    assert_eq!(result["amount"], "10.28");
    assert_eq!(result["payment_status"], "check");
    assert_eq!(result["is_final"], false);
    assert!(result["payment_amount"].is_null());
    let uuid = result["uuid"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);
    assert_eq!(result["url"], format!("{}/pay/{uuid}", hk.base_url()));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expires = result["expired_at"].as_i64().unwrap();
    assert!((now + 3590..=now + 3610).contains(&expires));
    let requests = hk.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("merchant"), Some(MERCHANT));
    assert_eq!(requests[0].status, 200);
}

#[tokio::test]
async fn forged_sign_or_merchant_is_rejected_and_nothing_is_stored() {
    let hk = fake().await;
    let body = serde_json::to_vec(&invoice_request("order-1")).unwrap();
    let wrong_key = sign(&body, "not-the-key");
    let (status, reply) = call_raw(&hk, "/v1/payment", body.clone(), MERCHANT, &wrong_key).await;
    assert_eq!(
        (status, reply),
        (401, json!({"state": 1, "message": "Invalid Sign."}))
    );

    // Signing one body and sending another (a re-serialized one) must fail too.
    let signed_other = sign(b"{}", KEY);
    let (status, _) = call_raw(&hk, "/v1/payment", body.clone(), MERCHANT, &signed_other).await;
    assert_eq!(status, 401);

    let good = sign(&body, KEY);
    let (status, reply) = call_raw(&hk, "/v1/payment", body, "someone-else", &good).await;
    assert_eq!(status, 401);
    assert_eq!(reply["state"], 1);
    assert!(hk.invoices().is_empty());
    assert_eq!(hk.requests().len(), 3);
}

#[tokio::test]
async fn the_same_order_id_returns_the_existing_invoice() {
    let hk = fake().await;
    let (_, first) = call(&hk, "/v1/payment", &invoice_request("order-7")).await;
    let (status, second) = call(&hk, "/v1/payment", &invoice_request("order-7")).await;
    assert_eq!(status, 200);
    assert_eq!(first["result"]["uuid"], second["result"]["uuid"]);
    assert_eq!(hk.invoices().len(), 1);
}

#[tokio::test]
async fn invalid_amount_or_order_id_is_a_422_and_stores_nothing() {
    let hk = fake().await;
    for amount in [
        json!(10.28),
        json!("1e3"),
        json!("0"),
        json!("-5"),
        json!("10,28"),
        Value::Null,
    ] {
        let mut req = invoice_request("order-1");
        req["amount"] = amount.clone();
        let (status, body) = call(&hk, "/v1/payment", &req).await;
        assert_eq!(status, 422, "amount {amount}: {body}");
        assert_eq!(body["state"], 1);
        assert!(body["errors"]["amount"].is_array(), "{body}");
    }
    for order_id in ["has space", "slash/no", "", &"x".repeat(129)] {
        let (status, body) = call(&hk, "/v1/payment", &invoice_request(order_id)).await;
        assert_eq!(status, 422, "order_id {order_id:?}");
        assert!(body["errors"]["order_id"].is_array(), "{body}");
    }
    let (status, body) = call(&hk, "/v1/payment", &json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"]["amount"], json!(["validation.required"]));
    assert_eq!(body["errors"]["currency"], json!(["validation.required"]));
    let mut req = invoice_request("order-1");
    req["lifetime"] = json!(60);
    assert_eq!(call(&hk, "/v1/payment", &req).await.0, 422);
    assert!(hk.invoices().is_empty());
}

#[tokio::test]
async fn info_by_order_id_or_uuid_and_expiry() {
    let hk = fake().await;
    let (_, created) = call(&hk, "/v1/payment", &invoice_request("order-9")).await;
    let uuid = created["result"]["uuid"].clone();

    let (status, by_order) = call(&hk, "/v1/payment/info", &json!({"order_id": "order-9"})).await;
    assert_eq!(status, 200);
    assert_eq!(by_order["result"]["uuid"], uuid);
    assert_eq!(by_order["result"]["status"], "check");
    assert_eq!(by_order["result"]["payment_status"], "check");

    let (_, by_uuid) = call(&hk, "/v1/payment/info", &json!({"uuid": uuid})).await;
    assert_eq!(by_uuid["result"]["order_id"], "order-9");

    // order_id wins over uuid.
    let (status, _) = call(
        &hk,
        "/v1/payment/info",
        &json!({"uuid": uuid, "order_id": "nope"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(&hk, "/v1/payment/info", &json!({"order_id": "missing"})).await;
    assert_eq!(
        (status, body),
        (404, json!({"state": 1, "message": "Payment not found"}))
    );

    hk.set_status("order-9", "paid").unwrap();
    let (_, paid) = call(&hk, "/v1/payment/info", &json!({"order_id": "order-9"})).await;
    assert_eq!(paid["result"]["status"], "paid");
    assert_eq!(paid["result"]["is_final"], true);
    assert_eq!(paid["result"]["payment_amount"], "10.28");

    call(&hk, "/v1/payment", &invoice_request("order-10")).await;
    hk.expire("order-10").unwrap();
    let (_, expired) = call(&hk, "/v1/payment/info", &json!({"order_id": "order-10"})).await;
    assert_eq!(expired["result"]["status"], "cancel");
    assert_eq!(expired["result"]["is_final"], true);
}

#[tokio::test]
async fn wrong_amount_pays_less_and_paid_over_more() {
    let hk = fake().await;
    call(&hk, "/v1/payment", &invoice_request("under")).await;
    call(&hk, "/v1/payment", &invoice_request("over")).await;
    let under = hk.set_status("under", "wrong_amount").unwrap();
    let over = hk.set_status("over", "paid_over").unwrap();
    assert!(under.payment_amount.unwrap() < under.amount);
    assert!(over.payment_amount.unwrap() > over.amount);
    assert!(under.is_final() && over.is_final());
    assert!(hk.set_status("under", "no-such-status").is_err());
}

#[tokio::test]
async fn services_answers_a_list() {
    let hk = fake().await;
    let (status, body) = call(&hk, "/v1/payment/services", &json!({})).await;
    assert_eq!(status, 200);
    assert!(!body["result"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn failure_modes_fail_reject_and_hang() {
    let hk = fake().await;
    hk.set_mode(Mode::Fail);
    assert_eq!(hk.mode(), Mode::Fail);
    assert_eq!(call(&hk, "/v1/payment/services", &json!({})).await.0, 500);

    hk.set_mode(Mode::Reject);
    let (status, body) = call(&hk, "/v1/payment/services", &json!({})).await;
    assert_eq!(
        (status, body["message"].clone()),
        (401, json!("Invalid Sign."))
    );

    hk.set_mode(Mode::Hang);
    let bytes = b"{}".to_vec();
    let started = std::time::Instant::now();
    let result = common::client()
        .post(format!("{}/v1/payment/services", hk.base_url()))
        .header("merchant", MERCHANT)
        .header("sign", sign(&bytes, KEY))
        .body(bytes)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(hk.requests().last().unwrap().status, 0);

    hk.set_mode(Mode::Normal);
    assert_eq!(call(&hk, "/v1/payment/services", &json!({})).await.0, 200);
    assert!(hk.invoices().is_empty());
}

/// What heleket-sdk's `verify_raw` does: cut `"sign":"<hex>"` out of the raw bytes.
fn strip_sign(body: &str) -> (String, String) {
    let start = body.find(r#","sign":""#).expect("sign member");
    let value_start = start + r#","sign":""#.len();
    let value_end = value_start + body[value_start..].find('"').unwrap();
    let stripped = format!("{}{}", &body[..start], &body[value_end + 1..]);
    (stripped, body[value_start..value_end].to_owned())
}

#[tokio::test]
async fn callback_body_is_php_encoded_and_verifies_by_raw_stripping() {
    let hk = fake().await;
    let mut req = invoice_request("order-cb");
    req["additional_data"] = json!("https://shop.example/стars?pack=100");
    call(&hk, "/v1/payment", &req).await;

    let body = String::from_utf8(hk.callback_body("order-cb", "paid").unwrap()).unwrap();
    let (unsigned, signature) = strip_sign(&body);
    assert_eq!(sign(unsigned.as_bytes(), KEY), signature);
    assert!(
        body.contains(r#""additional_data":"https:\/\/shop.example\/стars?pack=100""#),
        "{body}"
    );
    assert!(body.starts_with(r#"{"type":"payment","uuid":""#), "{body}");
    assert!(body.ends_with(&format!(r#","sign":"{signature}"}}"#)));
    assert!(body.contains(r#""wallet_address_uuid":null"#));
    assert!(!body.contains(' '), "compact: {body}");

    // Keys come in Heleket's order.
    let order = [
        "\"type\"",
        "\"uuid\"",
        "\"order_id\"",
        "\"amount\"",
        "\"payment_amount\"",
        "\"payment_amount_usd\"",
        "\"merchant_amount\"",
        "\"commission\"",
        "\"is_final\"",
        "\"status\"",
        "\"from\"",
        "\"wallet_address_uuid\"",
        "\"network\"",
        "\"currency\"",
        "\"payer_currency\"",
        "\"additional_data\"",
        "\"convert\"",
        "\"txid\"",
        "\"sign\"",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| body.find(&format!("{k}:")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{body}");

    // A naive re-serialization (no slash escaping) breaks the signature: the pitfall to catch.
    let parsed: Value = serde_json::from_str(&unsigned).unwrap();
    assert_ne!(sign(&serde_json::to_vec(&parsed).unwrap(), KEY), signature);

    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["status"], "paid");
    assert_eq!(value["is_final"], true);
    assert_eq!(value["amount"], "10.28");
    // The stored invoice is untouched by rendering a body.
    assert_eq!(hk.invoice("order-cb").unwrap().status, "check");
}

#[tokio::test]
async fn send_callback_and_pay_reach_a_local_receiver() {
    let hk = fake().await;
    let receiver = common::Receiver::start(&[]).await;
    let mut req = invoice_request("order-pay");
    req["url_callback"] = json!(receiver.url);
    call(&hk, "/v1/payment", &req).await;

    let status = hk.pay("order-pay").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(hk.invoice("order-pay").unwrap().status, "paid");
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["content-type"], "application/json");
    let body = std::str::from_utf8(&got[0].body).unwrap();
    let (unsigned, signature) = strip_sign(body);
    assert_eq!(sign(unsigned.as_bytes(), KEY), signature);
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap()["order_id"],
        "order-pay"
    );

    // Forged bodies and extra headers go out verbatim.
    let forged = body.replace("\"paid\"", "\"paid_over\"").into_bytes();
    let status = hk
        .send_callback_to(
            &receiver.url,
            forged.clone(),
            &[("x-forwarded-for", "31.133.220.8")],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let got = receiver.received();
    assert_eq!(got[1].body.as_ref(), forged.as_slice());
    assert_eq!(got[1].headers["x-forwarded-for"], "31.133.220.8");

    assert!(hk.send_callback("unknown", "paid").await.is_err());
}

#[tokio::test]
async fn control_api_pays_and_switches_modes() {
    let hk = fake().await;
    let receiver = common::Receiver::start(&[]).await;
    let mut req = invoice_request("order-ctl");
    req["url_callback"] = json!(receiver.url);
    call(&hk, "/v1/payment", &req).await;
    let client = common::client();
    let resp = client
        .post(format!("{}/_sandbox/pay", hk.base_url()))
        .json(&json!({"order_id": "order-ctl", "status": "paid_over"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["callback_status"], 200);
    assert_eq!(receiver.received().len(), 1);

    let list: Value = client
        .get(format!("{}/_sandbox/invoices", hk.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["status"], "paid_over");

    let resp = client
        .post(format!("{}/_sandbox/mode", hk.base_url()))
        .json(&json!({"mode": "fail"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(hk.mode(), Mode::Fail);
}

#[tokio::test]
async fn clones_share_state_and_shutdown_stops_the_server() {
    let hk = fake().await;
    let clone = hk.clone();
    call(&hk, "/v1/payment", &invoice_request("o")).await;
    assert_eq!(clone.invoices().len(), 1);
    let url = hk.base_url();
    drop(clone);
    hk.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let result = common::client()
        .post(format!("{url}/v1/payment"))
        .send()
        .await;
    assert!(result.is_err(), "server still answering after shutdown");
}

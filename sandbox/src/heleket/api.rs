//! The `/v1` API: signature check first, then Heleket's validation and invoice logic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::invoice::{Invoice, parse_amount};
use super::{Mode, RecordedRequest, State, control, sign};
use crate::net;

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/{*rest}", any(v1))
        .merge(control::router())
        .with_state(state)
}

type Reply = (u16, Value);

fn failure(status: u16, message: &str) -> Reply {
    (status, json!({"state": 1, "message": message}))
}

async fn v1(
    AxState(state): AxState<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_ascii_lowercase(), value)
            })
            .collect(),
        body: body.to_vec(),
        status: 0,
        at: SystemTime::now(),
    };
    let (mode, latency) = {
        let inner = state.lock();
        let mode = inner
            .path_modes
            .get(uri.path().trim_end_matches('/'))
            .copied()
            .unwrap_or(inner.mode);
        (mode, inner.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (status, reply) = match mode {
        Mode::Hang => {
            state.lock().requests.push(request);
            // Accept and never answer, like a stuck upstream; the stop signal ends the wait so
            // a stopped fake does not keep a task alive for an hour.
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                () = net::stopped(state.stop.clone()) => {}
            }
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Mode::Fail => failure(500, "Internal Server Error"),
        Mode::Reject => failure(401, "Invalid Sign."),
        Mode::Normal => handle(&state, &method, uri.path(), &headers, &body),
    };
    request.status = status;
    state.lock().requests.push(request);
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(reply)).into_response()
}

fn handle(state: &State, method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
    if method != Method::POST {
        return failure(405, "Method not allowed");
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("merchant") != Some(state.opts.merchant.as_str()) {
        return failure(401, "Wrong key");
    }
    if header("sign") != Some(sign(body, &state.opts.api_key).as_str()) {
        return failure(401, "Invalid Sign.");
    }
    let params = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            _ => return failure(400, "Invalid JSON"),
        }
    };
    match path.trim_end_matches('/') {
        "/v1/payment" => create(state, &params),
        "/v1/payment/info" => info(state, &params),
        "/v1/payment/services" => (200, json!({"state": 0, "result": services()})),
        _ => failure(404, "Not found"),
    }
}

type Errors = BTreeMap<&'static str, Vec<&'static str>>;

fn required_string<'a>(
    params: &'a Map<String, Value>,
    key: &'static str,
    errors: &mut Errors,
) -> Option<&'a str> {
    match params.get(key) {
        None | Some(Value::Null) => {
            errors.entry(key).or_default().push("validation.required");
            None
        }
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::String(_)) => {
            errors.entry(key).or_default().push("validation.required");
            None
        }
        Some(_) => {
            errors.entry(key).or_default().push("validation.string");
            None
        }
    }
}

fn optional_string(
    params: &Map<String, Value>,
    key: &'static str,
    errors: &mut Errors,
) -> Option<String> {
    match params.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.entry(key).or_default().push("validation.string");
            None
        }
    }
}

fn valid_order_id(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn create(state: &State, params: &Map<String, Value>) -> Reply {
    let mut errors = Errors::new();
    let amount =
        required_string(params, "amount", &mut errors).and_then(|raw| match parse_amount(raw) {
            None => {
                errors
                    .entry("amount")
                    .or_default()
                    .push("validation.numeric");
                None
            }
            Some(a) if a.is_sign_negative() || a.is_zero() => {
                errors
                    .entry("amount")
                    .or_default()
                    .push("validation.gt.numeric");
                None
            }
            Some(a) => Some(a),
        });
    let currency = required_string(params, "currency", &mut errors);
    if let Some(c) = currency
        && !(c.len() <= 10 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        errors.entry("currency").or_default().push("validation.in");
    }
    let order_id = required_string(params, "order_id", &mut errors);
    if let Some(id) = order_id {
        if id.len() > 128 {
            errors
                .entry("order_id")
                .or_default()
                .push("validation.max.string");
        } else if !valid_order_id(id) {
            errors
                .entry("order_id")
                .or_default()
                .push("validation.regex");
        }
    }
    let mut urls = [None, None, None];
    for (slot, key) in urls
        .iter_mut()
        .zip(["url_callback", "url_return", "url_success"])
    {
        *slot = optional_string(params, key, &mut errors);
        if let Some(url) = slot.as_deref() {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !(6..=255).contains(&url.len()) || !scheme_ok {
                errors.entry(key).or_default().push("validation.url");
            }
        }
    }
    let lifetime = match params.get("lifetime") {
        None | Some(Value::Null) => Some(3600),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        Some(_) => None,
    };
    let lifetime = lifetime.filter(|l| (300..=43200).contains(l));
    if lifetime.is_none() {
        errors
            .entry("lifetime")
            .or_default()
            .push("validation.between.numeric");
    }
    let additional_data = optional_string(params, "additional_data", &mut errors);
    if additional_data
        .as_ref()
        .is_some_and(|d| d.chars().count() > 255)
    {
        errors
            .entry("additional_data")
            .or_default()
            .push("validation.max.string");
    }
    let to_currency = optional_string(params, "to_currency", &mut errors);
    let network = optional_string(params, "network", &mut errors);

    let (Some(amount), Some(currency), Some(order_id), Some(lifetime)) =
        (amount, currency, order_id, lifetime)
    else {
        return (422, json!({"state": 1, "errors": errors}));
    };
    if !errors.is_empty() {
        return (422, json!({"state": 1, "errors": errors}));
    }
    let now = OffsetDateTime::now_utc();
    let mut inner = state.lock();
    // A known order_id returns the invoice already issued: it is the client's idempotency key.
    if let Some(existing) = inner.invoices.iter_mut().find(|i| i.order_id == order_id) {
        existing.expire_if_due(now);
        let existing = existing.clone();
        return (
            200,
            json!({"state": 0, "result": inner.reported(&existing, &state.base_url)}),
        );
    }
    let [url_callback, url_return, url_success] = urls;
    let uuid = Uuid::new_v4();
    let invoice = Invoice {
        uuid,
        order_id: order_id.to_owned(),
        amount,
        currency: currency.to_owned(),
        status: "check".into(),
        payment_amount: None,
        payer_amount: None,
        payer_currency: to_currency.clone(),
        merchant_amount: None,
        commission: None,
        address: network
            .as_ref()
            .map(|_| format!("T{}", &uuid.simple().to_string()[..33])),
        network,
        from: None,
        txid: None,
        to_currency,
        url_callback,
        url_return,
        url_success,
        additional_data,
        lifetime,
        expired_at: now.unix_timestamp() + lifetime,
        created_at: now,
        updated_at: now,
    };
    let reply = json!({"state": 0, "result": inner.reported(&invoice, &state.base_url)});
    inner.invoices.push(invoice);
    (200, reply)
}

fn info(state: &State, params: &Map<String, Value>) -> Reply {
    let by_order = params.get("order_id").and_then(Value::as_str);
    let by_uuid = params.get("uuid").and_then(Value::as_str);
    if by_order.is_none() && by_uuid.is_none() {
        return (
            422,
            json!({"state": 1, "errors": {"uuid": ["validation.required_without"]}}),
        );
    }
    let now = OffsetDateTime::now_utc();
    let mut inner = state.lock();
    // When both are given, order_id wins, as documented.
    let found = inner.invoices.iter_mut().find(|i| match by_order {
        Some(order_id) => i.order_id == order_id,
        None => by_uuid.is_some_and(|u| i.uuid.to_string().eq_ignore_ascii_case(u)),
    });
    match found {
        Some(invoice) => {
            invoice.expire_if_due(now);
            let invoice = invoice.clone();
            (
                200,
                json!({"state": 0, "result": inner.reported(&invoice, &state.base_url)}),
            )
        }
        None => failure(404, "Payment not found"),
    }
}

fn services() -> Value {
    let service = |network: &str, currency: &str, min: &str| {
        json!({
            "network": network,
            "currency": currency,
            "is_available": true,
            "limit": {"min_amount": min, "max_amount": "1000000.00"},
            "commission": {"fee_amount": "0.00", "percent": "2.00"},
        })
    };
    json!([
        service("tron", "USDT", "1.00"),
        service("eth", "USDT", "10.00"),
        service("bsc", "USDT", "1.00"),
        service("btc", "BTC", "0.00010000"),
        service("ton", "TON", "0.50"),
    ])
}

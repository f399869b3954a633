//! Heleket API client: every call signed over the exact bytes sent, each
//! operation (its retries included) bounded by `HELEKET_REQUEST_TIMEOUT`,
//! behind a circuit breaker so that while Heleket is
//! failing callers get "unavailable" at once instead of waiting for timeouts.

pub mod breaker;
pub mod callback;
pub mod sign;

use crate::config::HeleketConfig;
use breaker::{Breaker, BreakerState};
use secrecy::ExposeSecret;
use serde_json::Value;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HeleketError {
    /// A transport error or a 5xx: worth a quick retry.
    #[error("heleket unavailable: {0}")]
    Unavailable(String),
    /// No answer within `HELEKET_REQUEST_TIMEOUT`: not retried inline, a user is waiting.
    #[error("heleket did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The breaker is open: refused at once, without calling Heleket.
    #[error("heleket circuit breaker is open")]
    CircuitOpen,
    /// Heleket refused the request (4xx, 422, state != 0): retrying won't help.
    #[error("heleket rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
}

impl HeleketError {
    /// Only failures of Heleket itself count toward opening the breaker; a
    /// request Heleket refuses means Heleket is up.
    fn counts_as_failure(&self) -> bool {
        matches!(
            self,
            HeleketError::Unavailable(_) | HeleketError::Timeout(_)
        )
    }

    /// Whether the caller should say "try again later" (as opposed to "this request is wrong").
    pub fn is_unavailable(&self) -> bool {
        !matches!(self, HeleketError::Rejected { .. })
    }
}

#[derive(Clone)]
pub struct Heleket {
    http: reqwest::Client,
    cfg: HeleketConfig,
    breaker: Breaker,
}

impl Heleket {
    pub fn new(cfg: HeleketConfig) -> Self {
        let breaker = breaker::new(cfg.breaker_threshold, cfg.breaker_recovery);
        Heleket {
            // The per-call deadline is enforced below (failsafe has none of its own).
            http: runtime::http::client(cfg.timeout + std::time::Duration::from_secs(1)),
            cfg,
            breaker,
        }
    }

    pub fn config(&self) -> &HeleketConfig {
        &self.cfg
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Asks the breaker whether a call may go out now (moves open → half-open
    /// once the recovery time has passed; false while the half-open trial is out).
    pub fn call_permitted(&self) -> bool {
        self.breaker.would_permit()
    }

    pub fn breaker_subscribe(&self) -> tokio::sync::watch::Receiver<BreakerState> {
        self.breaker.subscribe()
    }

    /// One operation through the breaker: POSTs `body` to `path` (retrying
    /// transport errors and 5xx, except as the half-open trial, which is one
    /// attempt) and returns the `result` of Heleket's envelope. The breaker
    /// hears the operation's outcome once, however many attempts it took.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, HeleketError> {
        let Some(permit) = self.breaker.try_acquire() else {
            metrics::counter!("heleket_calls_total", "path" => path.to_string(), "outcome" => "circuit_open")
                .increment(1);
            return Err(HeleketError::CircuitOpen);
        };
        // One deadline for the whole operation, retries included: this is the
        // innermost of the nested deadlines (HELEKET_REQUEST_TIMEOUT).
        let timeout = self.cfg.timeout;
        let operation = async {
            if permit.is_trial() {
                self.send(path, body).await
            } else {
                // Stop retrying once the breaker has opened meanwhile: from then
                // on every operation is refused at once, this one included.
                retrying(
                    || self.send(path, body),
                    || self.breaker.state() == BreakerState::Closed,
                )
                .await
            }
        };
        let result = tokio::time::timeout(timeout, operation)
            .await
            .unwrap_or(Err(HeleketError::Timeout(timeout)));
        match &result {
            Err(e) if e.counts_as_failure() => permit.failure(),
            _ => permit.success(),
        }
        result
    }

    /// One signed HTTP call, outside the breaker.
    async fn send(&self, path: &str, body: &Value) -> Result<Value, HeleketError> {
        // Serialize once and sign these very bytes; re-serializing would change them.
        let bytes = serde_json::to_vec(body).expect("JSON values serialize");
        let sign = sign::sign(&bytes, self.cfg.api_key.expose_secret());
        let url = format!("{}{}", self.cfg.api_base, path);
        let request = runtime::http::traced(
            self.http
                .post(url)
                .header("merchant", &self.cfg.merchant)
                .header("sign", sign)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes),
        );
        let timeout = self.cfg.timeout;
        // The whole exchange (headers and body) under one deadline.
        let call = async move {
            let resp = request
                .send()
                .await
                .map_err(|e| HeleketError::Unavailable(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            let body = resp
                .bytes()
                .await
                .map_err(|e| HeleketError::Unavailable(e.without_url().to_string()))?;
            envelope(status, &body)
        };
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(HeleketError::Timeout(timeout)));
        let outcome = match &result {
            Ok(_) => "ok",
            Err(HeleketError::Unavailable(_)) => "unavailable",
            Err(HeleketError::Timeout(_)) => "timeout",
            Err(HeleketError::CircuitOpen) => "circuit_open",
            Err(HeleketError::Rejected { .. }) => "rejected",
        };
        metrics::counter!("heleket_calls_total", "path" => path.to_string(), "outcome" => outcome)
            .increment(1);
        metrics::histogram!("heleket_call_duration_seconds", "path" => path.to_string())
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// A cheap signed call that proves Heleket answers and accepts our key.
    /// It bypasses the breaker and never moves it: a health check is not a
    /// purchase (the services list may answer while invoices fail).
    pub async fn probe(&self) -> Result<(), HeleketError> {
        self.send("/v1/payment/services", &serde_json::json!({}))
            .await
            .map(|_| ())
    }

    /// Creates the invoice of an order. The order id is Heleket's `order_id`,
    /// so repeating the call returns the same invoice: safe to retry.
    pub async fn create_invoice(&self, req: &Value) -> Result<Invoice, HeleketError> {
        let v = self.post("/v1/payment", req).await?;
        parse_invoice(v)
    }

    pub async fn invoice_by_uuid(&self, uuid: &str) -> Result<Invoice, HeleketError> {
        let body = serde_json::json!({ "uuid": uuid });
        parse_invoice(self.post("/v1/payment/info", &body).await?)
    }

    pub async fn invoice_by_order(&self, order_id: &str) -> Result<Invoice, HeleketError> {
        let body = serde_json::json!({ "order_id": order_id });
        parse_invoice(self.post("/v1/payment/info", &body).await?)
    }
}

/// Retries transport errors and 5xx with a short backoff while `go_on()`
/// holds; timeouts, an open breaker and refusals are returned at once.
async fn retrying<F, Fut>(mut call: F, go_on: impl Fn() -> bool) -> Result<Value, HeleketError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Value, HeleketError>>,
{
    const BACKOFF: [std::time::Duration; 2] = [
        std::time::Duration::from_millis(200),
        std::time::Duration::from_millis(800),
    ];
    let mut attempt = 0;
    loop {
        match call().await {
            Err(HeleketError::Unavailable(reason)) if attempt < BACKOFF.len() && go_on() => {
                tracing::info!(%reason, attempt, "heleket call failed; retrying");
                tokio::time::sleep(BACKOFF[attempt]).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The invoice fields we use (reference 1.5). `amount`/`currency` are what
/// was invoiced (compared with the order before anything is credited); what
/// the payer sent (`payment_amount`, `payer_amount`, ...) is Heleket's business,
/// summed up by `status`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Invoice {
    pub uuid: String,
    #[serde(default)]
    pub order_id: Option<String>,
    /// A decimal string per the reference; kept raw so it is parsed exactly.
    #[serde(default)]
    amount: Option<Value>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payment_status: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    expired_at: Option<Value>,
}

impl Invoice {
    /// `status`, falling back to `payment_status`, as the SDKs read it.
    pub fn status(&self) -> &str {
        self.status
            .as_deref()
            .or(self.payment_status.as_deref())
            .unwrap_or("check")
    }

    /// The invoiced amount as written by Heleket (a string, or a number's text).
    pub fn amount_text(&self) -> Option<String> {
        match self.amount.as_ref()? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The invoiced amount, exactly (never through a float); None if missing or not a decimal.
    pub fn amount(&self) -> Option<rust_decimal::Decimal> {
        let text = self.amount_text()?;
        let text = text.trim();
        let plain = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        if !plain {
            return None;
        }
        text.parse().ok()
    }

    pub fn expires_at(&self) -> Option<time::OffsetDateTime> {
        let secs = match self.expired_at.as_ref()? {
            Value::Number(n) => n.as_i64()?,
            Value::String(s) => s.parse().ok()?,
            _ => return None,
        };
        time::OffsetDateTime::from_unix_timestamp(secs).ok()
    }
}

fn parse_invoice(v: Value) -> Result<Invoice, HeleketError> {
    serde_json::from_value(v).map_err(|e| HeleketError::Rejected {
        status: 200,
        message: format!("unexpected invoice shape: {e}"),
    })
}

/// Unwraps `{"state":0,"result":…}`; anything else is classified.
fn envelope(status: u16, body: &[u8]) -> Result<Value, HeleketError> {
    if status >= 500 {
        return Err(HeleketError::Unavailable(format!("HTTP {status}")));
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        if status >= 400 {
            HeleketError::Rejected {
                status,
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            }
        } else {
            HeleketError::Unavailable(format!("unparsable reply (HTTP {status})"))
        }
    })?;
    let state = v.get("state").and_then(Value::as_i64).unwrap_or(-1);
    if status < 400 && state == 0 {
        return Ok(v.get("result").cloned().unwrap_or(Value::Null));
    }
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| v.get("errors").map(|e| e.to_string()))
        .unwrap_or_else(|| format!("state {state}"));
    Err(HeleketError::Rejected { status, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_amounts_are_read_exactly() {
        let inv = |amount: Value| {
            parse_invoice(serde_json::json!({"uuid": "u", "amount": amount})).unwrap()
        };
        let d = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
        assert_eq!(inv("15.00".into()).amount(), Some(d("15")));
        assert_eq!(inv("0.10000000".into()).amount(), Some(d("0.1")));
        assert_eq!(inv(serde_json::json!(3.75)).amount(), Some(d("3.75")));
        assert_eq!(inv("1e3".into()).amount(), None);
        assert_eq!(inv("".into()).amount(), None);
        assert_eq!(inv(Value::Null).amount(), None);
        assert_eq!(
            parse_invoice(serde_json::json!({"uuid": "u"}))
                .unwrap()
                .amount(),
            None
        );
    }

    #[test]
    fn envelope_classifies_heleket_replies() {
        assert_eq!(
            envelope(200, br#"{"state":0,"result":{"uuid":"u"}}"#).unwrap()["uuid"],
            "u"
        );
        assert!(matches!(
            envelope(502, b"<html>"),
            Err(HeleketError::Unavailable(_))
        ));
        assert_eq!(
            envelope(401, br#"{"state":1,"message":"Invalid Sign."}"#),
            Err(HeleketError::Rejected {
                status: 401,
                message: "Invalid Sign.".into()
            })
        );
        assert!(matches!(
            envelope(
                422,
                br#"{"state":1,"errors":{"amount":["validation.required"]}}"#
            ),
            Err(HeleketError::Rejected { status: 422, .. })
        ));
    }
}

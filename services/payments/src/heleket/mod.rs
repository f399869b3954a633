//! Heleket API client: every call signed over the exact bytes sent, bounded
//! by `PAYMENT_TIMEOUT`, behind a circuit breaker so that while Heleket is
//! failing callers get "unavailable" at once instead of waiting for timeouts.

pub mod breaker;
pub mod sign;

use crate::config::HeleketConfig;
use breaker::{Breaker, BreakerState, StateProbe};
use failsafe::futures::CircuitBreaker as _;
use serde_json::Value;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HeleketError {
    /// Heleket is down, slow, or the breaker is open: try again later.
    #[error("heleket unavailable: {0}")]
    Unavailable(String),
    /// Heleket refused the request (4xx, 422, state != 0): retrying won't help.
    #[error("heleket rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
}

impl HeleketError {
    /// Only failures of Heleket itself count toward opening the breaker; a
    /// request Heleket refuses means Heleket is up.
    fn counts_as_failure(&self) -> bool {
        matches!(self, HeleketError::Unavailable(_))
    }
}

#[derive(Clone)]
pub struct Heleket {
    http: reqwest::Client,
    cfg: HeleketConfig,
    breaker: Breaker,
    probe: StateProbe,
}

impl Heleket {
    pub fn new(cfg: HeleketConfig) -> Self {
        let (breaker, probe) = breaker::new(cfg.breaker_threshold, cfg.breaker_recovery);
        Heleket {
            // The per-call deadline is enforced below (failsafe has none of its own).
            http: runtime::http::client(cfg.timeout + std::time::Duration::from_secs(1)),
            cfg,
            breaker,
            probe,
        }
    }

    pub fn config(&self) -> &HeleketConfig {
        &self.cfg
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.probe.get()
    }

    /// POSTs `body` to `path` and returns the `result` of Heleket's envelope.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, HeleketError> {
        // Serialize once and sign these very bytes; re-serializing would change them.
        let bytes = serde_json::to_vec(body).expect("JSON values serialize");
        let sign = sign::sign(&bytes, &self.cfg.api_key);
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
        let call = async move {
            let resp = tokio::time::timeout(timeout, request.send())
                .await
                .map_err(|_| HeleketError::Unavailable(format!("no answer within {timeout:?}")))?
                .map_err(|e| HeleketError::Unavailable(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            let body = tokio::time::timeout(timeout, resp.bytes())
                .await
                .map_err(|_| HeleketError::Unavailable("reply body timed out".into()))?
                .map_err(|e| HeleketError::Unavailable(e.without_url().to_string()))?;
            envelope(status, &body)
        };
        let started = std::time::Instant::now();
        let result = match self.breaker.call_with(HeleketError::counts_as_failure, call).await {
            Ok(v) => Ok(v),
            Err(failsafe::Error::Rejected) => Err(HeleketError::Unavailable("circuit breaker is open".into())),
            Err(failsafe::Error::Inner(e)) => Err(e),
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(HeleketError::Unavailable(_)) => "unavailable",
            Err(HeleketError::Rejected { .. }) => "rejected",
        };
        metrics::counter!("heleket_calls_total", "path" => path.to_string(), "outcome" => outcome).increment(1);
        metrics::histogram!("heleket_call_duration_seconds", "path" => path.to_string())
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// A cheap signed call that proves Heleket answers and accepts our key.
    pub async fn probe(&self) -> Result<(), HeleketError> {
        self.post("/v1/payment/services", &serde_json::json!({})).await.map(|_| ())
    }
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
    fn envelope_classifies_heleket_replies() {
        assert_eq!(envelope(200, br#"{"state":0,"result":{"uuid":"u"}}"#).unwrap()["uuid"], "u");
        assert!(matches!(envelope(502, b"<html>"), Err(HeleketError::Unavailable(_))));
        assert_eq!(
            envelope(401, br#"{"state":1,"message":"Invalid Sign."}"#),
            Err(HeleketError::Rejected {
                status: 401,
                message: "Invalid Sign.".into()
            })
        );
        assert!(matches!(
            envelope(422, br#"{"state":1,"errors":{"amount":["validation.required"]}}"#),
            Err(HeleketError::Rejected { status: 422, .. })
        ));
    }
}

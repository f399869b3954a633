//! Health reports: a JSON body naming every component, 200 when all critical
//! components are up and 503 otherwise.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Up,
    /// Working, with reduced redundancy (a replica down, a breaker half-open).
    Degraded,
    Down,
}

#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub status: Status,
    /// Whether this component being down makes the whole service unhealthy.
    pub critical: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

impl Component {
    pub fn up(latency: Option<std::time::Duration>) -> Self {
        Component {
            status: Status::Up,
            critical: true,
            latency_ms: latency.map(|d| d.as_millis() as u64),
            error: None,
            details: serde_json::Value::Null,
        }
    }

    pub fn down(error: impl Into<String>) -> Self {
        Component {
            status: Status::Down,
            critical: true,
            latency_ms: None,
            error: Some(error.into()),
            details: serde_json::Value::Null,
        }
    }

    pub fn from_result(r: Result<std::time::Duration, String>) -> Self {
        match r {
            Ok(d) => Component::up(Some(d)),
            Err(e) => Component::down(e),
        }
    }

    pub fn non_critical(mut self) -> Self {
        self.critical = false;
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Postgres as a health component: `SELECT 1` within two seconds.
pub async fn db(pool: &sqlx::PgPool) -> Component {
    Component::from_result(crate::db::ping(pool, std::time::Duration::from_secs(2)).await)
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub status: Status,
    pub service: &'static str,
    pub components: BTreeMap<String, Component>,
}

impl Report {
    pub fn new(service: &'static str, components: BTreeMap<String, Component>) -> Self {
        let critical_down = components
            .values()
            .any(|c| c.critical && c.status == Status::Down);
        let any_not_up = components.values().any(|c| c.status != Status::Up);
        let status = if critical_down {
            Status::Down
        } else if any_not_up {
            Status::Degraded
        } else {
            Status::Up
        };
        Report {
            status,
            service,
            components,
        }
    }

    /// The report without latencies, errors or details (internal addresses,
    /// error strings): what the public may see.
    pub fn statuses_only(mut self) -> Self {
        for c in self.components.values_mut() {
            c.latency_ms = None;
            c.error = None;
            c.details = serde_json::Value::Null;
        }
        self
    }

    pub fn http_status(&self) -> StatusCode {
        if self.status == Status::Down {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }
    }
}

impl IntoResponse for Report {
    fn into_response(self) -> Response {
        (self.http_status(), Json(self)).into_response()
    }
}

/// `GET /health/live`: 200 while the process serves requests, whatever its
/// dependencies say. For container health checks and restarts: a service
/// whose Redis is failing over must not be restarted for it (that is what
/// `/health`'s component statuses are for).
pub fn live_router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new().route(
        LIVE_PATH,
        axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
    )
}

pub const LIVE_PATH: &str = "/health/live";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_critical_component_down_makes_the_report_503() {
        let mut c = BTreeMap::new();
        c.insert("db".to_string(), Component::up(None));
        c.insert(
            "redis".to_string(),
            Component::down("master: connection refused"),
        );
        let r = Report::new("gateway", c);
        assert_eq!(r.http_status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn a_non_critical_component_down_only_degrades() {
        let mut c = BTreeMap::new();
        c.insert("db".to_string(), Component::up(None));
        c.insert(
            "replica".to_string(),
            Component::down("gone").non_critical(),
        );
        let r = Report::new("gateway", c);
        assert_eq!(r.status, Status::Degraded);
        assert_eq!(r.http_status(), StatusCode::OK);
    }
}

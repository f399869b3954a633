//! How cache failures and Redis health look to the rest of the fleet: one
//! mapping, so every service answers "Redis master down" the same way
//! (503 / UNAVAILABLE) and reports the trio alike in /health.

use crate::{CacheError, RedisHealth};
use runtime::ServiceError;
use runtime::health::{Component, Status};

impl From<CacheError> for ServiceError {
    fn from(e: CacheError) -> Self {
        if e.is_unavailable() {
            ServiceError::Unavailable(e.to_string())
        } else {
            ServiceError::Internal(e.into())
        }
    }
}

impl From<RedisHealth> for Component {
    fn from(h: RedisHealth) -> Self {
        let details = serde_json::to_value(&h).unwrap_or_default();
        let mut c = if h.healthy() {
            Component::up(h.master.latency_ms.map(std::time::Duration::from_millis))
        } else {
            Component::down(
                h.master
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("redis master {} down", h.master.addr)),
            )
        };
        if h.degraded() {
            c.status = Status::Degraded;
        }
        c.with_details(details)
    }
}

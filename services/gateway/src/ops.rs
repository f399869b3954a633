//! Who may see the fleet's internals. `/metrics` and the detailed
//! `/health/*` bodies name internal addresses and error strings, so they are
//! served only to `OPS_ALLOWED_IPS` (loopback and the private ranges by
//! default: a Prometheus or an operator inside the network). Everyone else
//! gets 403 there, and the aggregate `GET /health` with statuses only, which
//! is all a load balancer or an uptime check needs.
//!
//! The address is the one nginx saw (`client_ip`): a client cannot claim to
//! be inside by sending X-Real-IP itself.

use crate::client_ip::client_ip;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::net::SocketAddr;

/// The default `OPS_ALLOWED_IPS`: loopback and the private ranges.
pub fn default_allowlist() -> Vec<IpNet> {
    [
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    ]
    .iter()
    .map(|n| n.parse().expect("valid network"))
    .collect()
}

/// Whether the request comes from an operator's address.
pub fn is_operator(s: &AppState, req: &Request) -> bool {
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return false;
    };
    let ip = client_ip(*peer, req.headers(), &s.cfg.trusted_proxies);
    s.cfg.ops_allowed.iter().any(|n| n.contains(&ip))
}

/// Guards `/metrics` and `/health/*`.
pub async fn operators_only(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if is_operator(&s, &req) {
        return next.run(req).await;
    }
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({
            "error": "forbidden: served to OPS_ALLOWED_IPS only"
        })),
    )
        .into_response()
}

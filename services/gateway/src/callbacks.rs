//! `POST /heleket/webhook`: Heleket payment callbacks, forwarded byte for
//! byte to the payments service, which verifies signature and source address
//! (the signature is over the raw bytes, so nothing here may re-encode them).

use crate::client_ip::client_ip;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use proto::payments::CallbackRequest;
use runtime::ServiceError;
use std::net::SocketAddr;

pub async fn heleket_callback(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ServiceError> {
    let ip = client_ip(peer, &headers, &s.cfg.trusted_proxies);
    let reply = s
        .payments
        .clone()
        .handle_callback(CallbackRequest {
            raw_body: body.to_vec(),
            source_ip: ip.to_string(),
        })
        .await
        .map_err(|st| ServiceError::from_status(&st))?;
    Ok(Json(
        serde_json::json!({ "state": 0, "outcome": reply.into_inner().outcome }),
    ))
}

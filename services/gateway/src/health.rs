//! `/health` and its parts. The aggregate names every component; it answers
//! 503 when a critical one (Postgres, the Redis master, a service) is down.
//! Heleket is reported but not critical: updates still flow without it.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use proto::payments::PaymentHealthRequest;
use runtime::health::{Component, Report, Status};
use std::collections::BTreeMap;
use std::time::Duration;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Every component; to anyone outside `OPS_ALLOWED_IPS`, statuses only.
pub async fn all(State(s): State<AppState>, req: axum::extract::Request) -> Report {
    let report = full(&s).await;
    if crate::ops::is_operator(&s, &req) {
        report
    } else {
        report.statuses_only()
    }
}

async fn full(s: &AppState) -> Report {
    let (db, redis, bot, payments, broadcast, payment, webhook) = tokio::join!(
        db(s),
        redis(s),
        runtime::grpc::check_health(s.bot_channel.clone(), CHECK_TIMEOUT),
        runtime::grpc::check_health(s.payments_channel.clone(), CHECK_TIMEOUT),
        runtime::grpc::check_health(s.broadcast_channel.clone(), CHECK_TIMEOUT),
        payment(s),
        s.webhook_info.component(
            &s.tg,
            s.cfg.webhook_url.as_deref(),
            s.cfg.common.health_check_interval,
        ),
    );
    let mut c = BTreeMap::new();
    c.insert("db".to_string(), db);
    c.insert("redis".to_string(), redis);
    c.insert("bot".to_string(), Component::from_result(bot));
    c.insert("payments".to_string(), Component::from_result(payments));
    c.insert("broadcast".to_string(), Component::from_result(broadcast));
    c.insert("payment".to_string(), payment.non_critical());
    c.insert("webhook".to_string(), webhook);
    Report::new("gateway", c)
}

pub async fn db_only(State(s): State<AppState>) -> Response {
    single("db", db(&s).await)
}

pub async fn redis_only(State(s): State<AppState>) -> Response {
    single("redis", redis(&s).await)
}

pub async fn payment_only(State(s): State<AppState>) -> Response {
    single("payment", payment(&s).await)
}

fn single(name: &str, c: Component) -> Response {
    let code = if c.status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(serde_json::json!({ "component": name, "status": c.status, "detail": c })),
    )
        .into_response()
}

async fn db(s: &AppState) -> Component {
    runtime::health::db(&s.db).await
}

async fn redis(s: &AppState) -> Component {
    s.cache.health().await.into()
}

/// Heleket as the payments service sees it: reachability and breaker state.
async fn payment(s: &AppState) -> Component {
    let mut client = s.payments.clone();
    match tokio::time::timeout(
        CHECK_TIMEOUT * 3,
        client.get_health(PaymentHealthRequest {}),
    )
    .await
    {
        Ok(Ok(r)) => {
            let r = r.into_inner();
            let details = serde_json::json!({
                "heleket_reachable": r.heleket_reachable,
                "circuit_breaker": r.breaker_state,
                "detail": r.detail,
            });
            let mut c = if r.heleket_reachable && r.breaker_state != "open" {
                Component::up(None)
            } else {
                Component::down(if r.heleket_reachable {
                    format!("circuit breaker {}", r.breaker_state)
                } else {
                    format!(
                        "heleket unreachable: {} (circuit breaker {})",
                        r.detail, r.breaker_state
                    )
                })
            };
            if c.status == Status::Up && r.breaker_state == "half_open" {
                c.status = Status::Degraded;
            }
            c.with_details(details)
        }
        Ok(Err(st)) => Component::down(format!(
            "payments service: {:?} {}",
            st.code(),
            st.message()
        )),
        Err(_) => Component::down("payments service did not answer in time"),
    }
}

//! Builds the payments service and runs it until shutdown.

use crate::config::Config;
use crate::heleket::Heleket;
use proto::payments::payments_server::{Payments as PaymentsRpc, PaymentsServer};
use proto::payments::{CallbackReply, CallbackRequest, PaymentHealthReply, PaymentHealthRequest};
use runtime::ServiceError;
use runtime::health::{Component, Report};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub struct App {
    listener: TcpListener,
    db: PgPool,
    cache: cache::Cache,
    heleket: Heleket,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let db = runtime::db::pool(&config.db)?;
        runtime::db::migrate(&db, Duration::from_secs(30)).await?;
        let cache = cache::Cache::connect(&config.redis).await?;
        let listener = TcpListener::bind(config.listen).await?;
        Ok(App {
            listener,
            db,
            cache,
            heleket: Heleket::new(config.heleket),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let (health, health_svc) = tonic_health::server::health_reporter();
        health.set_serving::<PaymentsServer<PaymentsService>>().await;
        let svc = PaymentsService {
            heleket: self.heleket.clone(),
        };
        let routes = tonic::service::Routes::new(health_svc).add_service(PaymentsServer::new(svc));
        let (db, cache) = (self.db.clone(), self.cache.clone());
        let http = axum::Router::new().route(
            "/health",
            axum::routing::get(move || {
                let (db, cache) = (db.clone(), cache.clone());
                async move {
                    let mut c = BTreeMap::new();
                    c.insert("db".to_string(), Component::from_result(runtime::db::ping(&db, Duration::from_secs(2)).await));
                    c.insert("redis".to_string(), cache.health().await.into());
                    Report::new("payments", c)
                }
            }),
        );
        tracing::info!(port = self.port(), "payments service listening");
        runtime::grpc::serve(self.listener, routes, http, shutdown).await
    }
}

struct PaymentsService {
    heleket: Heleket,
}

#[tonic::async_trait]
impl PaymentsRpc for PaymentsService {
    async fn handle_callback(&self, _req: Request<CallbackRequest>) -> Result<Response<CallbackReply>, Status> {
        Err(ServiceError::Unavailable("payment callbacks are not accepted yet".into()).into())
    }

    async fn get_health(&self, _req: Request<PaymentHealthRequest>) -> Result<Response<PaymentHealthReply>, Status> {
        // The probe goes through the breaker: while it is open the probe is
        // refused at once, and after the recovery time it is the trial call.
        let probe = self.heleket.probe().await;
        Ok(Response::new(PaymentHealthReply {
            heleket_reachable: probe.is_ok(),
            breaker_state: self.heleket.breaker_state().as_str().to_string(),
            detail: probe.err().map(|e| e.to_string()).unwrap_or_default(),
        }))
    }
}

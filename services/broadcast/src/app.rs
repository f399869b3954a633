//! Builds the broadcast service and runs it until shutdown.

use crate::api::BroadcastService;
use crate::config::Config;
use crate::engine::Engine;
use proto::broadcast::broadcast_server::BroadcastServer;
use runtime::health::Report;
use std::collections::BTreeMap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub struct App {
    listener: TcpListener,
    cache: cache::Cache,
    engine: Engine,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let db = runtime::db::connect(&config.db).await?;
        let cache = cache::Cache::connect(&config.redis).await?;
        let listener = TcpListener::bind(config.listen).await?;
        let tz = crate::schedule::parse_timezone(&config.timezone).map_err(anyhow::Error::msg)?;
        let engine = Engine::new(db, cache.clone(), &config.telegram, config.engine, tz);
        Ok(App {
            listener,
            cache,
            engine,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves the API and runs the engine; on shutdown stops taking calls,
    /// lets in-flight sends finish and records their outcomes.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let (health, health_svc) = tonic_health::server::health_reporter();
        health
            .set_serving::<BroadcastServer<BroadcastService>>()
            .await;
        // Uploaded id lists can be large (2,000,000 ids is ~20 MB encoded).
        let api = BroadcastServer::new(BroadcastService {
            engine: self.engine.clone(),
            shutdown: shutdown.clone(),
        })
        .max_decoding_message_size(32 * 1024 * 1024);
        let routes = tonic::service::Routes::new(health_svc).add_service(api);
        let (db, cache) = (self.engine.db().clone(), self.cache.clone());
        let http = axum::Router::new().route(
            "/health",
            axum::routing::get(move || {
                let (db, cache) = (db.clone(), cache.clone());
                async move {
                    let mut c = BTreeMap::new();
                    c.insert("db".to_string(), runtime::health::db(&db).await);
                    c.insert("redis".to_string(), cache.health().await.into());
                    Report::new("broadcast", c)
                }
            }),
        );
        tracing::info!(port = self.port(), "broadcast service listening");
        let engine = tokio::spawn(self.engine.clone().run(shutdown.clone()));
        let served = runtime::grpc::serve(self.listener, routes, http, shutdown).await;
        if let Err(e) = engine.await {
            tracing::error!(error = %e, "broadcast engine task failed");
        }
        served
    }
}

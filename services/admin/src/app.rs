//! Builds the admin service and serves it until shutdown.

use crate::auth::Keys;
use crate::config::Config;
use proto::broadcast::broadcast_client::BroadcastClient;
use proto::payments::payments_client::PaymentsClient;
use runtime::grpc::TracedChannel;
use runtime::health::Report;
use runtime::service::CancellationToken;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The longest a progress stream is kept open; an event-stream client
/// reconnects after it, as browsers do by themselves.
const WATCH_LIMIT: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub cache: cache::Cache,
    pub cfg: Arc<Config>,
    pub keys: Arc<Keys>,
    pub broadcast: BroadcastClient<TracedChannel>,
    /// For `WatchCampaign` only: a stream lives as long as its campaign runs,
    /// so it gets no per-call deadline.
    pub watch: BroadcastClient<TracedChannel>,
    pub payments: PaymentsClient<TracedChannel>,
}

pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let db = runtime::db::connect(&config.db).await?;
        let cache = cache::Cache::connect(&config.redis).await?;
        if let Some((login, password)) = &config.first_owner {
            crate::routes::admins::create_first_owner(&db, login, password.expose_secret()).await?;
        }
        // Not a warning: one replica works without it (console sessions are
        // cookies checked in Postgres; API clients refresh after a restart),
        // and the seed's .env, which has no such variable, must start clean.
        if !config.auth.jwt_secret_configured {
            tracing::info!(
                "ADMIN_JWT_SECRET is not set: access tokens are signed with a key of this process \
                 and are refused after a restart (clients refresh) and by other admin replicas"
            );
        }
        let listener = TcpListener::bind(config.listen).await?;
        let keys = Arc::new(Keys::new(config.auth.jwt_secret.expose_secret().as_bytes()));
        let broadcast = runtime::grpc::channel(&config.broadcast_url, config.broadcast_timeout)?;
        let watch = runtime::grpc::channel(&config.broadcast_url, WATCH_LIMIT)?;
        let payments = runtime::grpc::channel(&config.payments_url, config.broadcast_timeout)?;
        Ok(App {
            listener,
            state: AppState {
                db,
                cache,
                cfg: Arc::new(config),
                keys,
                broadcast: BroadcastClient::new(broadcast),
                watch: BroadcastClient::new(watch),
                payments: PaymentsClient::new(payments),
            },
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown`, then lets requests in flight finish.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let (db, cache) = (self.state.db.clone(), self.state.cache.clone());
        let health = axum::routing::get(move || {
            let (db, cache) = (db.clone(), cache.clone());
            async move {
                let mut c = BTreeMap::new();
                c.insert("db".to_string(), runtime::health::db(&db).await);
                c.insert("redis".to_string(), cache.health().await.into());
                Report::new("admin", c)
            }
        });
        tracing::info!(port = self.port(), "admin API listening");
        let app = crate::routes::router(self.state.clone())
            .merge(crate::console::router(self.state))
            .route("/health", health)
            .merge(runtime::health::live_router())
            .merge(runtime::metrics::router())
            .layer(axum::middleware::from_fn(runtime::metrics::track_http))
            .layer(axum::middleware::from_fn(runtime::http::trace_requests));
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    }
}

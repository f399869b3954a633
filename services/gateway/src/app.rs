//! Builds the gateway and runs it until shutdown.

use crate::chat_order::ChatLocks;
use crate::config::Config;
use crate::state::AppState;
use crate::{callbacks, health, register, webhook};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use proto::bot::bot_client::BotClient;
use proto::payments::payments_client::PaymentsClient;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Telegram updates are small; 1 MiB leaves room for long messages. nginx
/// enforces the same cap in front.
const UPDATE_BODY_LIMIT: usize = 1024 * 1024;
/// Heleket callbacks are a few hundred bytes.
const CALLBACK_BODY_LIMIT: usize = 64 * 1024;

pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let listener = TcpListener::bind(config.listen).await?;
        Self::build_on(config, listener).await
    }

    /// [`App::build`] on a listener bound beforehand (tests hold the port
    /// nginx was configured with from the start, so nothing can take it).
    pub async fn build_on(config: Config, listener: TcpListener) -> anyhow::Result<App> {
        let db = runtime::db::connect(&config.db).await?;
        let cache = cache::Cache::connect(&config.redis).await?;
        // Only an update's hand-over goes on after its answer; a callback's
        // work is detached inside payments, so its call is bounded by the budget.
        let bot_channel = runtime::grpc::channel(&config.bot_url, config.work_limit)?;
        let payments_channel = runtime::grpc::channel(&config.payments_url, config.update_budget)?;
        let broadcast_channel =
            runtime::grpc::channel(&config.broadcast_url, config.update_budget)?;
        let tg = telegram::Bot::new(&config.telegram);
        let state = AppState {
            tg,
            cfg: Arc::new(config),
            claims: crate::claims::Claims::new(cache.clone()),
            handovers: tokio_util::task::TaskTracker::new(),
            cache,
            db,
            bot: BotClient::new(bot_channel.clone()),
            payments: PaymentsClient::new(payments_channel.clone()),
            bot_channel,
            payments_channel,
            broadcast_channel,
            chats: ChatLocks::default(),
            webhook_info: Default::default(),
        };
        Ok(App { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn router(state: AppState) -> Router {
        let webhook_path = state.cfg.webhook_path.clone();
        Router::new()
            .route(
                &webhook_path,
                post(webhook::telegram_update).layer(DefaultBodyLimit::max(UPDATE_BODY_LIMIT)),
            )
            .route(
                "/heleket/webhook",
                post(callbacks::heleket_callback).layer(DefaultBodyLimit::max(CALLBACK_BODY_LIMIT)),
            )
            .route("/health", get(health::all))
            .with_state(state.clone())
            .merge(runtime::health::live_router())
            .merge(Self::internal(state))
            .layer(axum::middleware::from_fn(runtime::metrics::track_http))
            .layer(axum::middleware::from_fn(runtime::http::trace_requests))
    }

    /// What only operators may read (see `ops.rs`).
    fn internal(state: AppState) -> Router {
        Router::new()
            .route("/health/db", get(health::db_only))
            .route("/health/redis", get(health::redis_only))
            .route("/health/payment", get(health::payment_only))
            .with_state(state.clone())
            .merge(runtime::metrics::router())
            .route_layer(axum::middleware::from_fn_with_state(
                state,
                crate::ops::operators_only,
            ))
    }

    /// Serves until `shutdown`; requests in flight are finished first.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        if let Some(url) = self.state.cfg.webhook_url.clone() {
            let certificate = self.state.cfg.webhook_certificate.as_deref().and_then(|path| {
                match crate::certificate::to_upload(path, crate::certificate::host_of(&url)) {
                    Ok(upload) => upload,
                    Err(e) => {
                        tracing::warn!(error = %e, "SSL_CERT_PATH unusable; registering the webhook without a certificate");
                        None
                    }
                }
            });
            register::spawn(
                telegram::Bot::new(&self.state.cfg.telegram),
                url,
                self.state.cfg.webhook_secret.clone(),
                certificate,
                shutdown.clone(),
            );
        }
        let beat = CancellationToken::new();
        let heartbeat = self.state.claims.spawn_heartbeat(beat.clone());
        let handovers = self.state.handovers.clone();
        let work_limit = self.state.cfg.work_limit;
        tracing::info!(port = self.port(), "gateway listening");
        let app = Self::router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        // Hand-overs outlive their requests (see webhook.rs): let them end,
        // within the limit any of them may take, before this gateway stops
        // saying it is alive and its claims become others' to take over.
        handovers.close();
        if tokio::time::timeout(work_limit, handovers.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = handovers.len(),
                "hand-overs still running at shutdown"
            );
        }
        beat.cancel();
        let _ = heartbeat.await;
        served
    }
}

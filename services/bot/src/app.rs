//! Builds the bot service and runs it until shutdown.

use crate::config::Config;
use crate::dispatch::Dispatcher;
use proto::bot::bot_server::{Bot as BotRpc, BotServer};
use proto::bot::{UpdateReply, UpdateRequest};
use runtime::ServiceError;
use runtime::health::Report;
use sqlx::PgPool;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument;

pub struct App {
    listener: TcpListener,
    db: PgPool,
    cache: cache::Cache,
    dispatcher: Dispatcher,
}

impl App {
    /// Binds the listener, connects storage and applies migrations.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let db = runtime::db::connect(&config.db).await?;
        let cache = cache::Cache::connect(&config.redis).await?;
        let listener = TcpListener::bind(config.listen).await?;
        let payments = runtime::grpc::channel(&config.payments_url, config.payments_timeout)?;
        let broadcast = runtime::grpc::channel(&config.broadcast_url, config.broadcast_timeout)?;
        let dispatcher = Dispatcher {
            db: db.clone(),
            // Replies share the token's send budget with broadcasts; they
            // queue behind at most a fraction of a second of campaign sends.
            tg: telegram::Bot::new(&config.telegram)
                .paced(telegram::SendBudget::new(cache.clone(), &config.telegram)),
            cache: cache.clone(),
            payments: proto::payments::payments_client::PaymentsClient::new(payments),
            broadcast: proto::broadcast::broadcast_client::BroadcastClient::new(broadcast),
            admins: config.common.admin_ids.clone().into(),
            rate_limit: config.rate_limit,
        };
        Ok(App {
            listener,
            db,
            cache,
            dispatcher,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        tracing::info!(port = self.port(), "bot service listening");
        let (health, health_svc) = tonic_health::server::health_reporter();
        health.set_serving::<BotServer<BotService>>().await;
        let routes =
            tonic::service::Routes::new(health_svc).add_service(BotServer::new(BotService {
                dispatcher: self.dispatcher,
                in_progress: Arc::default(),
            }));
        let db = self.db.clone();
        let cache = self.cache.clone();
        let http = axum::Router::new().route(
            "/health",
            axum::routing::get(move || {
                let (db, cache) = (db.clone(), cache.clone());
                async move { health_report(&db, &cache).await }
            }),
        );
        runtime::grpc::serve(self.listener, routes, http, shutdown).await
    }
}

async fn health_report(db: &PgPool, cache: &cache::Cache) -> Report {
    let mut c = BTreeMap::new();
    c.insert("db".to_string(), runtime::health::db(db).await);
    c.insert("redis".to_string(), cache.health().await.into());
    Report::new("bot", c)
}

struct BotService {
    dispatcher: Dispatcher,
    /// Updates whose reaction is running in this process. A second hand-over
    /// of one of them (the gateway that asked first died, and another took
    /// its claim over) is refused as UNAVAILABLE until the first ends.
    in_progress: Arc<Mutex<HashSet<i64>>>,
}

/// Removes an update from `in_progress` when its reaction ends, however.
struct Running {
    set: Arc<Mutex<HashSet<i64>>>,
    update_id: i64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.update_id);
    }
}

#[tonic::async_trait]
impl BotRpc for BotService {
    async fn handle_update(
        &self,
        req: Request<UpdateRequest>,
    ) -> Result<Response<UpdateReply>, Status> {
        let req = req.into_inner();
        let update: telegram::Update = serde_json::from_slice(&req.raw).map_err(|e| {
            ServiceError::InvalidInput(format!(
                "update {} is not a Telegram update: {e}",
                req.update_id
            ))
        })?;
        tracing::info!(
            update_id = update.update_id,
            chat_id = req.chat_id,
            "handling update"
        );
        let update_id = update.update_id;
        if !self
            .in_progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(update_id)
        {
            return Err(
                ServiceError::Unavailable(format!("update {update_id} is being handled")).into(),
            );
        }
        let running = Running {
            set: self.in_progress.clone(),
            update_id,
        };
        // Detached: if the gateway stops waiting (or dies), tonic drops this
        // handler, but a reaction cut half-way (the order created, its pay
        // link never sent) is worse than one that finishes late. The bot marks
        // the update done itself, so a redelivery after the asking gateway
        // died is answered from the marker instead of being handled again.
        let dispatcher = self.dispatcher.clone();
        let (acted, marked_done) = tokio::spawn(
            async move {
                let _running = running;
                let acted = dispatcher.handle(&update).await?;
                let marked = match dispatcher
                    .cache
                    .finish_update(update_id, cache::UPDATE_DONE_TTL)
                    .await
                {
                    Ok(()) => true,
                    Err(e) => {
                        // The gateway marks it, when it is still there.
                        tracing::debug!(update_id, error = %e, "could not mark update done");
                        false
                    }
                };
                Ok::<_, ServiceError>((acted, marked))
            }
            .in_current_span(),
        )
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("update task failed: {e}")))??;
        metrics::counter!("bot_updates_total", "acted" => acted.to_string()).increment(1);
        Ok(Response::new(UpdateReply { acted, marked_done }))
    }
}

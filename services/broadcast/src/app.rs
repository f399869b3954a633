//! Builds the broadcast service and runs it until shutdown.

use crate::config::Config;
use proto::broadcast::broadcast_server::{Broadcast as BroadcastRpc, BroadcastServer};
use proto::broadcast::{
    Audience, Campaign, CampaignRef, Content, CountAudienceReply, CreateCampaignRequest,
    ListCampaignsReply, ListCampaignsRequest, SendPreviewReply, SendPreviewRequest, StatsReply,
    StatsRequest, ValidateContentReply,
};
use runtime::ServiceError;
use runtime::health::Report;
use sqlx::PgPool;
use std::collections::BTreeMap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

pub struct App {
    listener: TcpListener,
    db: PgPool,
    cache: cache::Cache,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let db = runtime::db::connect(&config.db).await?;
        let cache = cache::Cache::connect(&config.redis).await?;
        let listener = TcpListener::bind(config.listen).await?;
        Ok(App {
            listener,
            db,
            cache,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let (health, health_svc) = tonic_health::server::health_reporter();
        health
            .set_serving::<BroadcastServer<BroadcastService>>()
            .await;
        let routes = tonic::service::Routes::new(health_svc).add_service(BroadcastServer::new(
            BroadcastService {
                db: self.db.clone(),
            },
        ));
        let (db, cache) = (self.db.clone(), self.cache.clone());
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
        runtime::grpc::serve(self.listener, routes, http, shutdown).await
    }
}

struct BroadcastService {
    db: PgPool,
}

#[tonic::async_trait]
impl BroadcastRpc for BroadcastService {
    async fn get_stats(&self, _req: Request<StatsRequest>) -> Result<Response<StatsReply>, Status> {
        let (users_total, subscribers_reachable): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE reachable AND subscribed) FROM users",
        )
        .fetch_one(&self.db)
        .await
        .map_err(ServiceError::from)?;
        Ok(Response::new(StatsReply {
            users_total,
            subscribers_reachable,
            ..Default::default()
        }))
    }

    async fn validate_content(
        &self,
        _req: Request<Content>,
    ) -> Result<Response<ValidateContentReply>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn count_audience(
        &self,
        _req: Request<Audience>,
    ) -> Result<Response<CountAudienceReply>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn create_campaign(
        &self,
        _req: Request<CreateCampaignRequest>,
    ) -> Result<Response<Campaign>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn send_preview(
        &self,
        _req: Request<SendPreviewRequest>,
    ) -> Result<Response<SendPreviewReply>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn start_campaign(
        &self,
        _req: Request<CampaignRef>,
    ) -> Result<Response<Campaign>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn pause_campaign(
        &self,
        _req: Request<CampaignRef>,
    ) -> Result<Response<Campaign>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn resume_campaign(
        &self,
        _req: Request<CampaignRef>,
    ) -> Result<Response<Campaign>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn cancel_campaign(
        &self,
        _req: Request<CampaignRef>,
    ) -> Result<Response<Campaign>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn get_campaign(&self, _req: Request<CampaignRef>) -> Result<Response<Campaign>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    type WatchCampaignStream =
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<Campaign, Status>> + Send>>;

    async fn watch_campaign(
        &self,
        _req: Request<CampaignRef>,
    ) -> Result<Response<Self::WatchCampaignStream>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }

    async fn list_campaigns(
        &self,
        _req: Request<ListCampaignsRequest>,
    ) -> Result<Response<ListCampaignsReply>, Status> {
        Err(Status::unimplemented("SKELETON"))
    }
}

//! Builds the payments service and runs it until shutdown.

use crate::config::Config;
use crate::flow::Payments;
use crate::heleket::Heleket;
use crate::heleket::breaker::BreakerState;
use crate::notify::Notifier;
use crate::{orders, reconciler};
use proto::payments::payments_server::{Payments as PaymentsRpc, PaymentsServer};
use proto::payments::{
    BalanceReply, BalanceRequest, CallbackReply, CallbackRequest, CheckOrderRequest,
    CreateOrderRequest, ListOrdersReply, ListOrdersRequest, Order as OrderMsg, PaymentHealthReply,
    PaymentHealthRequest, Price, QuoteReply, QuoteRequest, ResendPaymentLinkRequest,
};
use runtime::ServiceError;
use runtime::health::{Component, Report};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

pub struct App {
    listener: TcpListener,
    payments: Payments,
    reconcile_interval: Duration,
    reconcile_min_age: Duration,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let db = runtime::db::connect(&config.db).await?;
        let cache = cache::Cache::connect(&config.redis).await?;
        let listener = TcpListener::bind(config.listen).await?;
        // Notices share the token's send budget with replies and broadcasts.
        let notifier = Notifier::new(
            telegram::Bot::new(&config.telegram)
                .paced(telegram::SendBudget::new(cache.clone(), &config.telegram)),
            config.common.admin_ids.clone(),
        );
        let heleket = Heleket::new(config.heleket.clone());
        Ok(App {
            listener,
            payments: Payments::new(&config, db, cache, heleket, notifier),
            reconcile_interval: config.reconcile_interval,
            reconcile_min_age: config.reconcile_min_age,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        tracing::info!(port = self.port(), "payments service listening");
        let reconciler = reconciler::spawn(
            self.payments.clone(),
            self.reconcile_interval,
            self.reconcile_min_age,
            shutdown.clone(),
        );
        spawn_breaker_alerts(&self.payments, shutdown.clone());

        let (health, health_svc) = tonic_health::server::health_reporter();
        health
            .set_serving::<PaymentsServer<PaymentsService>>()
            .await;
        let routes = tonic::service::Routes::new(health_svc).add_service(PaymentsServer::new(
            PaymentsService {
                p: self.payments.clone(),
            },
        ));
        let p = self.payments.clone();
        let http = axum::Router::new().route(
            "/health",
            axum::routing::get(move || {
                let p = p.clone();
                async move {
                    let mut c = BTreeMap::new();
                    c.insert("db".to_string(), runtime::health::db(&p.db).await);
                    c.insert("redis".to_string(), p.cache.health().await.into());
                    let breaker = p.heleket.breaker_state();
                    let mut heleket = Component::up(None).non_critical();
                    if breaker != BreakerState::Closed {
                        heleket = Component::down(format!("circuit breaker {}", breaker.as_str()))
                            .non_critical();
                    }
                    c.insert("heleket".to_string(), heleket);
                    Report::new("payments", c)
                }
            }),
        );
        let served = runtime::grpc::serve(self.listener, routes, http, shutdown).await;
        // In-flight requests are done; let a running reconciliation pass finish too.
        let _ = reconciler.await;
        served
    }
}

/// Tells the admins when the breaker opens (Heleket failing) and when it closes again.
fn spawn_breaker_alerts(p: &Payments, shutdown: CancellationToken) {
    let mut rx = p.heleket.breaker_subscribe();
    let notifier = p.notifier.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = rx.changed() => if changed.is_err() { return },
            }
            let state = *rx.borrow_and_update();
            let text = match state {
                BreakerState::Open => {
                    "🚨 Heleket is failing: the payments circuit breaker is OPEN. Buyers are told to try later."
                }
                BreakerState::Closed => {
                    "✅ Heleket answers again: the payments circuit breaker is closed."
                }
                BreakerState::HalfOpen => continue,
            };
            notifier.to_admins(text).await;
        }
    });
}

struct PaymentsService {
    p: Payments,
}

/// Runs the work in its own task. tonic drops a handler when the caller gives
/// up; a Heleket call cancelled half-way would never reach the breaker, and a
/// credit committed just before would never be announced. Detached, the work
/// always finishes, and stays in the request's span: its Heleket and Telegram
/// calls carry the caller's trace, its log lines the trace id.
async fn detached<T, F>(work: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, ServiceError>> + Send + 'static,
{
    match tokio::spawn(work.in_current_span()).await {
        Ok(r) => r.map_err(Status::from),
        Err(e) => Err(ServiceError::Internal(anyhow::anyhow!("payments task failed: {e}")).into()),
    }
}

fn order_msg(o: &orders::Order) -> OrderMsg {
    OrderMsg {
        order_id: o.id.to_string(),
        stars: o.stars,
        amount: o.amount_text(),
        currency: o.currency.clone(),
        status: o.status.clone(),
        pay_url: o.pay_url.clone().unwrap_or_default(),
        expires_at: o.expires_at.map(|t| t.unix_timestamp()).unwrap_or(0),
        credited: o.credited_at.is_some(),
        created_at: o.created_at.unix_timestamp(),
    }
}

#[tonic::async_trait]
impl PaymentsRpc for PaymentsService {
    async fn handle_callback(
        &self,
        req: Request<CallbackRequest>,
    ) -> Result<Response<CallbackReply>, Status> {
        let req = req.into_inner();
        let p = self.p.clone();
        let outcome =
            detached(async move { p.handle_callback(&req.raw_body, &req.source_ip).await }).await?;
        Ok(Response::new(CallbackReply { outcome }))
    }

    async fn get_health(
        &self,
        _req: Request<PaymentHealthRequest>,
    ) -> Result<Response<PaymentHealthReply>, Status> {
        let p = self.p.clone();
        let probe = detached(async move { Ok(p.heleket_probe().await) }).await?;
        Ok(Response::new(PaymentHealthReply {
            heleket_reachable: probe.is_ok(),
            breaker_state: self.p.heleket.breaker_state().as_str().to_string(),
            detail: probe.err().map(|e| e.to_string()).unwrap_or_default(),
        }))
    }

    async fn quote(&self, req: Request<QuoteRequest>) -> Result<Response<QuoteReply>, Status> {
        let mut stars = req.into_inner().stars;
        if stars.is_empty() {
            stars = crate::pricing::PACKS.to_vec();
        }
        let pricing = &self.p.pricing;
        let prices = stars
            .into_iter()
            .map(|s| {
                pricing.validate(s)?;
                Ok(Price {
                    stars: s,
                    amount: pricing.price(s).to_string(),
                    currency: pricing.currency.clone(),
                })
            })
            .collect::<Result<Vec<_>, ServiceError>>()?;
        Ok(Response::new(QuoteReply {
            prices,
            custom_min: pricing.custom_min,
            custom_max: pricing.custom_max,
        }))
    }

    async fn create_order(
        &self,
        req: Request<CreateOrderRequest>,
    ) -> Result<Response<OrderMsg>, Status> {
        let r = req.into_inner();
        let p = self.p.clone();
        let o = detached(async move {
            let key = Some(r.idempotency_key.as_str()).filter(|k| !k.is_empty());
            p.create_order(r.user_id, r.chat_id, r.stars, &r.language, key)
                .await
        })
        .await?;
        Ok(Response::new(order_msg(&o)))
    }

    async fn check_order(
        &self,
        req: Request<CheckOrderRequest>,
    ) -> Result<Response<OrderMsg>, Status> {
        let r = req.into_inner();
        let p = self.p.clone();
        let o = detached(async move { p.check_order(&r.order_id, r.user_id).await }).await?;
        Ok(Response::new(order_msg(&o)))
    }

    async fn resend_payment_link(
        &self,
        req: Request<ResendPaymentLinkRequest>,
    ) -> Result<Response<OrderMsg>, Status> {
        let id = req.into_inner().order_id;
        let p = self.p.clone();
        let o = detached(async move { p.resend_payment_link(&id).await }).await?;
        Ok(Response::new(order_msg(&o)))
    }

    async fn get_balance(
        &self,
        req: Request<BalanceRequest>,
    ) -> Result<Response<BalanceReply>, Status> {
        let stars = self.p.balance(req.into_inner().user_id).await?;
        Ok(Response::new(BalanceReply { stars }))
    }

    async fn list_orders(
        &self,
        req: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersReply>, Status> {
        let r = req.into_inner();
        let orders = self.p.history(r.user_id, r.limit as i64).await?;
        Ok(Response::new(ListOrdersReply {
            orders: orders.iter().map(order_msg).collect(),
        }))
    }
}

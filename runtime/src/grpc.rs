//! gRPC plumbing shared by the services: one listener serving gRPC (with
//! `grpc.health.v1`) and plain HTTP `/health` + `/metrics`, trace context
//! carried in both directions, and graceful shutdown.

use crate::http::trace_requests;
use axum::Router;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::{Interceptor, Routes};
use tonic::transport::{Channel, Endpoint};

/// Serves `routes` (gRPC) and `http` (plain HTTP) on one listener until
/// `shutdown` is cancelled; in-flight requests finish before it returns.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    http: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = routes
        .into_axum_router()
        .merge(http)
        .merge(crate::health::live_router())
        .merge(crate::metrics::router())
        .layer(axum::middleware::from_fn(crate::metrics::track_http))
        .layer(axum::middleware::from_fn(trace_requests));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Writes the caller's trace context into every outgoing gRPC request, so the
/// callee's spans join the same trace.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceInterceptor;

impl Interceptor for TraceInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        for (name, value) in crate::telemetry::current_trace_headers().iter() {
            if let (Ok(k), Ok(v)) = (
                MetadataKey::from_bytes(name.as_str().as_bytes()),
                MetadataValue::try_from(value.as_bytes()),
            ) {
                req.metadata_mut().insert(k, v);
            }
        }
        Ok(req)
    }
}

pub type TracedChannel = InterceptedService<Channel, TraceInterceptor>;

/// A channel that connects on first use and reconnects after failures, so a
/// peer that starts later or restarts is picked up without restarting us.
pub fn channel(
    url: &str,
    request_timeout: Duration,
) -> Result<TracedChannel, tonic::transport::Error> {
    let ch = Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(2))
        .timeout(request_timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(InterceptedService::new(ch, TraceInterceptor))
}

/// Asks a peer's `grpc.health.v1` whether it is serving.
pub async fn check_health(channel: TracedChannel, timeout: Duration) -> Result<Duration, String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let start = std::time::Instant::now();
    let mut client = HealthClient::new(channel);
    let call = client.check(HealthCheckRequest {
        service: String::new(),
    });
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(resp)) if resp.get_ref().status == ServingStatus::Serving as i32 => {
            Ok(start.elapsed())
        }
        Ok(Ok(resp)) => Err(format!("not serving (status {})", resp.get_ref().status)),
        Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

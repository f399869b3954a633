//! HTTP plumbing: the request-tracing middleware and the outgoing client.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;
use tracing::Instrument;

/// Opens a span per request and joins the caller's trace (W3C `traceparent`),
/// whether the request is plain HTTP or gRPC.
pub async fn trace_requests(req: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        otel.name = %req.uri().path(),
        otel.kind = "server",
        http.method = %req.method(),
        http.path = %req.uri().path(),
    );
    crate::telemetry::adopt_remote_parent(&span, req.headers());
    next.run(req).instrument(span).await
}

/// Installs ring as rustls' crypto provider. reqwest is built with
/// `rustls-no-provider` (keeps aws-lc out of the build) and panics without one.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The outgoing HTTP client, with a total deadline per request.
pub fn client(timeout: Duration) -> reqwest::Client {
    install_crypto();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("TLS backend (ring) is available")
}

/// Adds the current trace context to an outgoing request.
pub fn traced(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.headers(crate::telemetry::current_trace_headers())
}

//! Logs, traces and W3C trace-context propagation.
//!
//! One call to [`init`] per process sets up JSON logs (filtered by `LOG_LEVEL`),
//! an OpenTelemetry tracer (exported over OTLP/gRPC when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set) and the W3C `traceparent` propagator.
//! A tracer is installed even without an exporter so trace ids are still
//! minted and carried across hops: the gateway → gRPC → outgoing HTTP chain
//! keeps one trace id whether or not anyone collects the spans.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, global};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes pending spans.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    pub fn shutdown(self) {
        if let Some(p) = self.provider
            && let Err(e) = p.shutdown()
        {
            eprintln!("telemetry shutdown: {e}");
        }
    }
}

static INSTALLED: OnceLock<()> = OnceLock::new();

/// Installs logging and tracing for this process. Must run inside a Tokio
/// runtime (the OTLP exporter is built there). Later calls are no-ops, which
/// lets tests run several services in one process.
pub fn init(
    service: &'static str,
    log_level: &str,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<Telemetry> {
    if INSTALLED.get().is_some() {
        return Ok(Telemetry { provider: None });
    }
    global::set_text_map_propagator(TraceContextPropagator::new());

    let mut builder = SdkTracerProvider::builder().with_resource(
        opentelemetry_sdk::Resource::builder()
            .with_service_name(service)
            .build(),
    );
    if let Some(endpoint) = otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer(service);

    let filter = EnvFilter::try_new(log_level)
        .map_err(|e| anyhow::anyhow!("LOG_LEVEL {log_level:?} is malformed: {e}"))?;
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let traces = tracing_opentelemetry::layer().with_tracer(tracer);
    // Another crate (a test harness) may have installed a subscriber first.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init();
    let _ = INSTALLED.set(());
    Ok(Telemetry {
        provider: Some(provider),
    })
}

/// Maps the seed's `LOG_LEVEL` (INFO, DEBUG, …) to a tracing filter.
pub fn filter_from_level(level: &str) -> String {
    match level.trim().to_ascii_lowercase().as_str() {
        "" => "info".into(),
        "warning" => "warn".into(),
        "critical" | "fatal" => "error".into(),
        other => other.to_string(),
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// The trace context a caller sent in `traceparent`/`tracestate`.
pub fn extract(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Makes `span` a child of the trace the caller sent, if any.
pub fn adopt_remote_parent(span: &Span, headers: &HeaderMap) {
    let cx = extract(headers);
    use opentelemetry::trace::TraceContextExt;
    if cx.span().span_context().is_valid() {
        // Fails only when the span is disabled by the filter: nothing to link then.
        let _ = span.set_parent(cx);
    }
}

/// Writes the current span's trace context into outgoing headers.
pub fn inject_current(headers: &mut HeaderMap) {
    let cx = Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
}

/// The current span's context as headers, for an outgoing reqwest call.
pub fn current_trace_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    inject_current(&mut h);
    h
}

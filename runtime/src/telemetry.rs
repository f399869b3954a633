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
use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use opentelemetry::{Context, global};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::{Arc, OnceLock};
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
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
    init_with_writer(service, log_level, otlp_endpoint, std::io::stderr)
}

/// [`init`] with the JSON log lines going to `writer` instead of stderr
/// (tests capture them this way).
pub fn init_with_writer<W>(
    service: &'static str,
    log_level: &str,
    otlp_endpoint: Option<&str>,
    writer: W,
) -> anyhow::Result<Telemetry>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
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

    // Another crate (a test harness) may have installed a subscriber first.
    let _ = subscriber(tracer, log_level, writer)?.try_init();
    let _ = INSTALLED.set(());
    Ok(Telemetry {
        provider: Some(provider),
    })
}

/// The layers [`init`] installs: JSON logs to `writer` filtered by
/// `log_level`, and spans to `tracer`.
fn subscriber<W>(
    tracer: opentelemetry_sdk::trace::SdkTracer,
    log_level: &str,
    writer: W,
) -> anyhow::Result<impl tracing::Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(log_level)
        .map_err(|e| anyhow::anyhow!("LOG_LEVEL {log_level:?} is malformed: {e}"))?;
    let traces_level = filter
        .max_level_hint()
        .map_or(LevelFilter::TRACE, |l| l.max(LevelFilter::INFO));
    let dispatch = DispatchHandle::default();
    let json = tracing_subscriber::fmt::format()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false);
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .event_format(WithTraceIds {
            inner: json,
            dispatch: dispatch.clone(),
        })
        .with_writer(writer)
        .with_filter(filter);
    // Spans and span events at the log level, but never fewer than INFO (the
    // request spans that carry the trace are INFO even when LOG_LEVEL=warn).
    // Unfiltered, every TRACE event of h2, hyper, rustls... would be
    // dispatched and recorded into the spans.
    let traces = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(traces_level);
    Ok(tracing_subscriber::registry()
        // Wants no spans or events (OFF): an unfiltered layer would enable them all.
        .with(dispatch.with_filter(LevelFilter::OFF))
        .with(logs)
        .with(traces))
}

/// A do-nothing layer that remembers the dispatcher it was installed in:
/// the OpenTelemetry context of a span is read through it, and inside an event
/// `tracing::dispatcher::get_default` would not see it (it is busy).
#[derive(Clone, Default)]
struct DispatchHandle(Arc<OnceLock<WeakDispatch>>);

impl<S: tracing::Subscriber> Layer<S> for DispatchHandle {
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }
}

/// The JSON line of `inner` with the OpenTelemetry `trace_id` and `span_id`
/// of the event's span as its first members, when it is in a trace.
struct WithTraceIds<F> {
    inner: F,
    dispatch: DispatchHandle,
}

impl<F> WithTraceIds<F> {
    /// The ids of the event's span. Asked of the dispatcher, not of the log
    /// layer's context, which hides spans below the log level (the INFO
    /// request span when LOG_LEVEL=warn).
    fn ids(&self, event: &tracing::Event<'_>) -> Option<(TraceId, SpanId)> {
        let dispatch = self.dispatch.0.get()?.upgrade()?;
        let span = match event.parent() {
            Some(id) => id.clone(),
            None if event.is_contextual() => dispatch.current_span().id()?.clone(),
            None => return None,
        };
        let cx = tracing_opentelemetry::get_otel_context(&span, &dispatch)?;
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Some((trace_id, span_id)) = self.ids(event) else {
            return self.inner.format_event(ctx, writer, event);
        };
        thread_local! {
            static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        LINE.with(|line| {
            // Reentrancy (an event logged while formatting) falls back to a fresh buffer.
            let mut own = String::new();
            let mut borrowed = line.try_borrow_mut();
            let buf = match borrowed.as_deref_mut() {
                Ok(b) => b,
                Err(_) => &mut own,
            };
            buf.clear();
            self.inner.format_event(ctx, Writer::new(buf), event)?;
            match buf.strip_prefix('{') {
                Some(rest) => write!(
                    writer,
                    "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
                ),
                None => writer.write_str(buf),
            }
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const PARENT_SPAN: &str = "00f067aa0ba902b7";

    /// Collects what the log layer writes.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<serde_json::Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        }

        fn line(&self, message: &str) -> serde_json::Value {
            self.lines()
                .into_iter()
                .find(|l| l["message"] == message)
                .unwrap_or_else(|| panic!("no {message:?} in {:?}", self.lines()))
        }
    }

    /// The subscriber `init` installs, as this thread's default, writing into a buffer.
    fn capture() -> (Buffer, tracing::subscriber::DefaultGuard) {
        capture_at("info")
    }

    fn capture_at(log_level: &str) -> (Buffer, tracing::subscriber::DefaultGuard) {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let tracer = SdkTracerProvider::builder().build().tracer("test");
        let buf = Buffer::default();
        let w = buf.clone();
        let sub = subscriber(tracer, log_level, move || w.clone()).unwrap();
        (buf, tracing::subscriber::set_default(sub))
    }

    fn incoming() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            HeaderValue::from_str(&format!("00-{TRACE_ID}-{PARENT_SPAN}-01")).unwrap(),
        );
        h
    }

    fn is_hex(s: &serde_json::Value, len: usize) -> bool {
        s.as_str()
            .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    #[test]
    fn a_log_line_inside_a_span_with_a_remote_parent_carries_its_trace_id() {
        let (buf, _guard) = capture();
        let span = tracing::info_span!("request");
        adopt_remote_parent(&span, &incoming());
        span.in_scope(|| {
            tracing::info!(order = 7, "in the request");
            tracing::info!(parent: None, "explicitly without a parent");
            tracing::info_span!("child").in_scope(|| tracing::warn!("in a child span"));
        });
        tracing::info!("outside any span");
        tracing::info!(parent: &span, "with an explicit parent");

        let line = buf.line("in the request");
        assert_eq!(line["trace_id"], TRACE_ID, "{line}");
        assert!(is_hex(&line["span_id"], 16), "{line}");
        assert_ne!(
            line["span_id"], PARENT_SPAN,
            "our span, not the caller's: {line}"
        );
        assert_eq!(line["order"], 7, "the event's own fields stay: {line}");
        assert_eq!(line["level"], "INFO", "{line}");

        let child = buf.line("in a child span");
        assert_eq!(child["trace_id"], TRACE_ID, "{child}");
        assert!(is_hex(&child["span_id"], 16), "{child}");
        assert_ne!(child["span_id"], line["span_id"], "{child}");

        let outside = buf.line("outside any span");
        assert!(outside.get("trace_id").is_none(), "{outside}");
        let explicit = buf.line("with an explicit parent");
        assert_eq!(explicit["trace_id"], TRACE_ID, "{explicit}");
        assert_eq!(explicit["span_id"], line["span_id"], "{explicit}");
        let root = buf.line("explicitly without a parent");
        assert!(root.get("trace_id").is_none(), "{root}");
    }

    #[test]
    fn events_below_the_log_level_are_not_even_dispatched() {
        let (_buf, _guard) = capture();
        assert!(!tracing::enabled!(target: "h2::codec", tracing::Level::TRACE));
        assert!(!tracing::enabled!(tracing::Level::DEBUG));
        assert!(tracing::enabled!(tracing::Level::INFO));
    }

    #[test]
    fn with_log_level_warn_the_info_request_span_still_carries_the_trace() {
        let (buf, _guard) = capture_at("warn");
        let span = tracing::info_span!("request");
        adopt_remote_parent(&span, &incoming());
        let headers = span.in_scope(|| {
            tracing::info!("not logged");
            tracing::warn!("logged");
            current_trace_headers()
        });
        let tp = headers["traceparent"].to_str().unwrap();
        assert!(tp.starts_with(&format!("00-{TRACE_ID}-")), "{tp}");
        assert_eq!(buf.line("logged")["trace_id"], TRACE_ID);
        assert_eq!(buf.lines().len(), 1, "{:?}", buf.lines());
    }

    #[test]
    fn a_span_without_a_remote_parent_gets_a_fresh_trace_id_in_its_lines() {
        let (buf, _guard) = capture();
        tracing::info_span!("job").in_scope(|| tracing::info!("a pass"));
        let line = buf.line("a pass");
        assert!(is_hex(&line["trace_id"], 32), "{line}");
        assert_ne!(line["trace_id"], TRACE_ID);
    }

    #[tokio::test]
    async fn work_spawned_through_in_current_span_keeps_the_trace() {
        use tracing::Instrument;
        let (buf, _guard) = capture();
        let span = tracing::info_span!("request");
        adopt_remote_parent(&span, &incoming());
        let headers = async {
            // What payments' `detached` does: a new task, same span.
            tokio::spawn(
                async {
                    tracing::info!("detached work");
                    current_trace_headers()
                }
                .in_current_span(),
            )
            .await
            .unwrap()
        }
        .instrument(span)
        .await;
        let tp = headers["traceparent"].to_str().unwrap();
        assert!(tp.starts_with(&format!("00-{TRACE_ID}-")), "{tp}");
        assert_eq!(buf.line("detached work")["trace_id"], TRACE_ID);
    }
}

//! A fake Heleket: checks request signatures, issues invoices, and sends signed callbacks.

mod api;
mod callback;
mod control;
mod invoice;
mod sign;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::net::{self, ServerGuard};
pub use invoice::{Invoice, STATUSES, is_final};
pub use sign::sign;

/// Merchant uuid the `sandbox serve` binary uses when `MERCHANT_UUID` is unset.
pub const SANDBOX_MERCHANT: &str = "5a4d0b1e-5a4d-4b0c-9e5b-000000000001";
/// API key the `sandbox serve` binary uses when `API_KEY` is unset.
pub const SANDBOX_API_KEY: &str = "sandbox-api-key";

#[derive(Debug, Clone)]
pub struct HeleketOptions {
    pub merchant: String,
    pub api_key: String,
    /// 0 picks a free port.
    pub port: u16,
}

impl Default for HeleketOptions {
    fn default() -> Self {
        Self {
            merchant: SANDBOX_MERCHANT.to_owned(),
            api_key: SANDBOX_API_KEY.to_owned(),
            port: 0,
        }
    }
}

/// How the `/v1` API behaves, so tests can exercise a client's timeouts and circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Normal,
    /// Every call answers HTTP 500.
    Fail,
    /// Every call is accepted and never answered (until the fake stops).
    Hang,
    /// Every call answers HTTP 401 "Invalid Sign.", as after a key rotation.
    Reject,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Fail => "fail",
            Mode::Hang => "hang",
            Mode::Reject => "reject",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Ok(Mode::Normal),
            "fail" => Ok(Mode::Fail),
            "hang" => Ok(Mode::Hang),
            "reject" => Ok(Mode::Reject),
            other => bail!("unknown mode {other:?}: expected normal, fail, hang or reject"),
        }
    }
}

/// One request to the `/v1` API as received. `status` is 0 for a request left hanging.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
    pub at: SystemTime,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

pub(crate) struct State {
    pub opts: HeleketOptions,
    pub base_url: String,
    pub client: reqwest::Client,
    /// Lets hanging handlers return when the fake stops.
    pub stop: watch::Receiver<bool>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub invoices: Vec<Invoice>,
    pub requests: Vec<RecordedRequest>,
    pub mode: Mode,
    /// Added before every answer: a slow but working Heleket.
    pub latency: Duration,
    /// Per-path modes (e.g. only `/v1/payment` failing); they win over `mode`.
    pub path_modes: HashMap<String, Mode>,
    /// How the API misreports an invoice, by order_id.
    pub misreports: HashMap<String, Misreport>,
}

/// What the fake's API (`/v1/payment`, `/v1/payment/info`) says differently from the invoice
/// it really issued, so tests can check that a client compares what Heleket confirms with the
/// order (an altered invoice, one of another order). Callbacks are not affected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Misreport {
    /// Reported instead of the invoiced `amount`.
    pub amount: Option<String>,
    /// Reported instead of the invoiced `currency`.
    pub currency: Option<String>,
    /// Leave `order_id` out of the reply.
    pub omit_order_id: bool,
}

impl Misreport {
    /// Applies the misreport to an invoice as rendered by [`Invoice::to_json`].
    pub(crate) fn apply(&self, mut v: Value) -> Value {
        if let Some(obj) = v.as_object_mut() {
            if let Some(a) = &self.amount {
                obj.insert("amount".into(), Value::String(a.clone()));
            }
            if let Some(c) = &self.currency {
                obj.insert("currency".into(), Value::String(c.clone()));
            }
            if self.omit_order_id {
                obj.remove("order_id");
            }
        }
        v
    }
}

impl Inner {
    /// The API's view of an invoice: its JSON, misreported if a test asked for it.
    pub(crate) fn reported(&self, invoice: &Invoice, base_url: &str) -> Value {
        let v = invoice.to_json(base_url);
        match self.misreports.get(&invoice.order_id) {
            Some(m) => m.apply(v),
            None => v,
        }
    }
}

impl State {
    /// A poisoned lock only means a test panicked mid-call; the data is still usable.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn invoices(&self) -> Vec<Invoice> {
        let now = OffsetDateTime::now_utc();
        let mut inner = self.lock();
        inner.invoices.iter_mut().for_each(|i| i.expire_if_due(now));
        inner.invoices.clone()
    }

    pub fn set_status(&self, order_id: &str, status: &str) -> anyhow::Result<Invoice> {
        if !STATUSES.contains(&status) {
            bail!("unknown payment status {status:?}");
        }
        let mut inner = self.lock();
        let invoice = find(&mut inner, order_id)?;
        invoice.apply_status(status, OffsetDateTime::now_utc());
        Ok(invoice.clone())
    }

    pub fn callback_body(&self, order_id: &str, status: &str) -> anyhow::Result<Vec<u8>> {
        if !STATUSES.contains(&status) {
            bail!("unknown payment status {status:?}");
        }
        let mut invoice = find(&mut self.lock(), order_id)?.clone();
        // Re-applying the current status would mint a new txid; keep the stored one.
        if invoice.status != status {
            invoice.apply_status(status, OffsetDateTime::now_utc());
        }
        Ok(callback::render(&invoice, &self.opts.api_key))
    }

    pub async fn send_callback(&self, order_id: &str, status: &str) -> anyhow::Result<StatusCode> {
        let body = self.callback_body(order_id, status)?;
        let url = find(&mut self.lock(), order_id)?
            .url_callback
            .clone()
            .ok_or_else(|| anyhow!("invoice {order_id} has no url_callback"))?;
        self.send_callback_to(&url, body, &[]).await
    }

    pub async fn send_callback_to(
        &self,
        url: &str,
        body: Vec<u8>,
        extra_headers: &[(&str, &str)],
    ) -> anyhow::Result<StatusCode> {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("posting the Heleket callback to {url}"))?;
        Ok(response.status())
    }
}

fn find<'a>(inner: &'a mut Inner, order_id: &str) -> anyhow::Result<&'a mut Invoice> {
    inner
        .invoices
        .iter_mut()
        .find(|i| i.order_id == order_id)
        .ok_or_else(|| anyhow!("no invoice with order_id {order_id:?}"))
}

/// Handle of a running fake; clones share the server, which stops with the last clone.
#[derive(Clone)]
pub struct FakeHeleket {
    state: Arc<State>,
    server: Arc<ServerGuard>,
}

impl FakeHeleket {
    pub async fn start(opts: HeleketOptions) -> anyhow::Result<Self> {
        let listener = net::bind_local(opts.port).await?;
        Self::start_on(listener, opts)
    }

    /// Serves on a listener bound by the caller (the `sandbox serve` binary picks the address).
    pub fn start_on(listener: TcpListener, opts: HeleketOptions) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = net::stop_channel();
        let state = Arc::new(State {
            opts,
            base_url: net::base_url(addr),
            client: net::http_client(Duration::from_secs(30))?,
            stop: stop_rx,
            inner: Mutex::new(Inner::default()),
        });
        let router = api::router(state.clone());
        let server = net::spawn_server(listener, router, stop, "heleket");
        Ok(Self {
            state,
            server: Arc::new(server),
        })
    }

    /// `http://127.0.0.1:PORT`; the payments service's `HELEKET_API_BASE`.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    pub fn merchant(&self) -> &str {
        &self.state.opts.merchant
    }

    pub fn api_key(&self) -> &str {
        &self.state.opts.api_key
    }

    pub fn shutdown(&self) {
        self.server.shutdown();
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.state.lock().requests.clear();
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().mode = mode;
    }

    pub fn mode(&self) -> Mode {
        self.state.lock().mode
    }

    /// Makes every API call take `latency` longer (then answer normally).
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().latency = latency;
    }

    /// Sets the mode of one API path only (`None` returns it to the global mode), e.g. invoice
    /// creation failing while `/v1/payment/services` still answers.
    pub fn set_path_mode(&self, path: &str, mode: Option<Mode>) {
        let mut inner = self.state.lock();
        match mode {
            Some(m) => inner.path_modes.insert(path.to_owned(), m),
            None => inner.path_modes.remove(path),
        };
    }

    /// Makes the API report the invoice of `order_id` differently from what was issued.
    pub fn misreport(&self, order_id: &str, m: Misreport) {
        self.state.lock().misreports.insert(order_id.to_owned(), m);
    }

    /// All invoices in creation order, expired ones already reported as `cancel`.
    pub fn invoices(&self) -> Vec<Invoice> {
        self.state.invoices()
    }

    pub fn invoice(&self, order_id: &str) -> Option<Invoice> {
        self.invoices().into_iter().find(|i| i.order_id == order_id)
    }

    /// Moves an invoice to one of the reference statuses (see [`STATUSES`]).
    pub fn set_status(&self, order_id: &str, status: &str) -> anyhow::Result<Invoice> {
        self.state.set_status(order_id, status)
    }

    /// Backdates `expired_at` so the invoice reads as expired (`cancel`) from now on.
    pub fn expire(&self, order_id: &str) -> anyhow::Result<()> {
        let mut inner = self.state.lock();
        let invoice = find(&mut inner, order_id)?;
        invoice.expired_at = OffsetDateTime::now_utc().unix_timestamp() - 1;
        Ok(())
    }

    /// The signed webhook body Heleket would send for the invoice in `status` (the stored
    /// invoice is not changed).
    pub fn callback_body(&self, order_id: &str, status: &str) -> anyhow::Result<Vec<u8>> {
        self.state.callback_body(order_id, status)
    }

    /// POSTs the callback for `status` to the invoice's `url_callback`; returns the receiver's
    /// HTTP status.
    pub async fn send_callback(&self, order_id: &str, status: &str) -> anyhow::Result<StatusCode> {
        self.state.send_callback(order_id, status).await
    }

    /// POSTs any body to any URL, for tests that forge bodies, signs or headers.
    pub async fn send_callback_to(
        &self,
        url: &str,
        body: Vec<u8>,
        extra_headers: &[(&str, &str)],
    ) -> anyhow::Result<StatusCode> {
        self.state.send_callback_to(url, body, extra_headers).await
    }

    /// The customer pays exactly: status `paid`, then the callback.
    pub async fn pay(&self, order_id: &str) -> anyhow::Result<StatusCode> {
        self.set_status(order_id, "paid")?;
        self.send_callback(order_id, "paid").await
    }
}

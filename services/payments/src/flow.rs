//! The purchase flow: orders, invoices, callbacks, reconciliation. Every path
//! that learns a status from Heleket ends in [`Payments::apply`], so the
//! credit and its notification happen once, wherever the news came from.

use crate::claims::{self, Claim};
use crate::config::Config;
use crate::heleket::callback::{self, VerifyError};
use crate::heleket::{Heleket, HeleketError, Invoice};
use crate::notify::Notifier;
use crate::orders::{self, Effect, Meaning, NewOrder, Order};
use crate::pricing::Pricing;
use runtime::ServiceError;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Alert the admins when this many callbacks fail verification within the window.
const BAD_SIGN_ALERT_AFTER: u32 = 5;
const BAD_SIGN_WINDOW: Duration = Duration::from_secs(600);
/// An order Heleket has no invoice for after this long is closed as failed.
const ABANDONED_AFTER: Duration = Duration::from_secs(600);
/// How long after its creation an order that is closed (expired, cancelled)
/// or credited is still checked with Heleket: a payment can land after the
/// invoice expired, and a credited payment can be refunded. (Invoices live at
/// most 12 h.)
pub(crate) const LATE_PAYMENT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// When Heleket was last probed, and what it said.
type ProbeResult = (Instant, Result<(), HeleketError>);

#[derive(Clone)]
pub struct Payments {
    pub db: PgPool,
    pub cache: cache::Cache,
    pub heleket: Heleket,
    pub notifier: Notifier,
    pub pricing: Pricing,
    callback_url: Option<String>,
    invoice_lifetime: Duration,
    callback_lease: Duration,
    status_check_cooldown: Duration,
    allowed_ips: Arc<Vec<IpAddr>>,
    bad_signs: Arc<Mutex<(Instant, u32)>>,
    /// The last Heleket probe, reused for `HEALTH_CHECK_INTERVAL` so that
    /// polling /health (public, and by orchestrators) does not poll Heleket.
    probe: Arc<tokio::sync::Mutex<Option<ProbeResult>>>,
    probe_interval: Duration,
}

impl Payments {
    pub fn new(
        cfg: &Config,
        db: PgPool,
        cache: cache::Cache,
        heleket: Heleket,
        notifier: Notifier,
    ) -> Self {
        Payments {
            db,
            cache,
            allowed_ips: Arc::new(heleket.config().allowed_ips.clone()),
            heleket,
            notifier,
            pricing: cfg.pricing.clone(),
            callback_url: cfg.callback_url.clone(),
            invoice_lifetime: cfg.invoice_lifetime,
            callback_lease: cfg.callback_lease,
            status_check_cooldown: cfg.status_check_cooldown,
            bad_signs: Arc::new(Mutex::new((Instant::now(), 0))),
            probe: Arc::new(tokio::sync::Mutex::new(None)),
            probe_interval: cfg.common.health_check_interval,
        }
    }

    /// Whether Heleket answers, probed at most once per health-check interval
    /// (once per recovery time, if shorter, while the breaker is not closed, so
    /// operators see Heleket come back). The probe goes around the breaker and
    /// never moves it: only a real operation, as the half-open trial, closes it.
    pub async fn heleket_probe(&self) -> Result<(), HeleketError> {
        let mut last = self.probe.lock().await;
        let closed = self.heleket.breaker_state() == crate::heleket::breaker::BreakerState::Closed;
        let fresh_for = if closed {
            self.probe_interval
        } else {
            self.probe_interval
                .min(self.heleket.config().breaker_recovery)
        };
        if let Some((at, result)) = last.as_ref()
            && at.elapsed() < fresh_for
        {
            return result.clone();
        }
        let result = self.heleket.probe().await;
        *last = Some((Instant::now(), result.clone()));
        result
    }

    /// Stores the order, then asks Heleket for its invoice.
    pub async fn create_order(
        &self,
        user_id: i64,
        chat_id: i64,
        stars: i64,
        language: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Order, ServiceError> {
        self.pricing.validate(stars)?;
        let language = if language == "ru" { "ru" } else { "en" };
        let amount = self.pricing.price(stars);
        // Stored first: whatever happens to the Heleket call, the order exists
        // and its id is the idempotency key of the invoice.
        let (order, created) = orders::insert(
            &self.db,
            &NewOrder {
                user_id,
                chat_id,
                stars,
                amount,
                currency: &self.pricing.currency,
                language,
                idempotency_key,
            },
        )
        .await?;
        if !created {
            if order.user_id != user_id || order.stars != stars {
                return Err(ServiceError::InvalidInput(
                    "idempotency key already used for another order".into(),
                ));
            }
            metrics::counter!("orders_deduplicated_total").increment(1);
            match order.status.as_str() {
                // Stored, but the first attempt has not attached an invoice (still
                // running, or it died): asking Heleket again with the same order id
                // returns the same invoice, so carry on below.
                "new" => {}
                "failed" => {
                    return Err(ServiceError::Unavailable(
                        "payments temporarily unavailable: the invoice could not be created".into(),
                    ));
                }
                _ => return Ok(order),
            }
        }
        let mut req = serde_json::json!({
            "amount": amount.to_string(),
            "currency": self.pricing.currency,
            "order_id": order.id.to_string(),
            "lifetime": self.invoice_lifetime.as_secs(),
            // Shown in Heleket's dashboard, so support can find the buyer.
            // (Its `/` also comes back PHP-escaped in every callback.)
            "additional_data": format!("telegram/{user_id}/stars/{stars}"),
        });
        if let Some(url) = &self.callback_url {
            req["url_callback"] = serde_json::json!(url);
        }
        match self.heleket.create_invoice(&req).await {
            Ok(inv) => {
                let (effect, order) = self.apply(&order, &inv).await?;
                if effect == Effect::Mismatch {
                    // Never hand out a pay link for an invoice that is not this order's.
                    orders::mark_failed(&self.db, order.id).await?;
                    metrics::counter!("orders_failed_total").increment(1);
                    return Err(ServiceError::Unavailable(
                        "payments temporarily unavailable: Heleket's invoice does not match the order"
                            .into(),
                    ));
                }
                metrics::counter!("orders_created_total").increment(1);
                Ok(order)
            }
            Err(e) => {
                orders::mark_failed(&self.db, order.id).await?;
                metrics::counter!("orders_failed_total").increment(1);
                tracing::warn!(order_id = %order.id, error = %e, "invoice not created");
                Err(ServiceError::Unavailable(format!(
                    "payments temporarily unavailable: {e}"
                )))
            }
        }
    }

    /// The "check status" button: at most one Heleket query per order per
    /// cooldown, whatever the user does; otherwise the stored state.
    pub async fn check_order(&self, order_id: &str, user_id: i64) -> Result<Order, ServiceError> {
        let id = parse_order_id(order_id)?;
        let order = orders::get(&self.db, id)
            .await?
            .filter(|o| o.user_id == user_id)
            .ok_or_else(|| ServiceError::NotFound(format!("order {order_id}")))?;
        let open = matches!(order.status.as_str(), "new" | "pending");
        // Closed or credited but recent: Heleket may know better (a late payment, a refund).
        let recent = order.created_at > time::OffsetDateTime::now_utc() - LATE_PAYMENT_WINDOW
            && !matches!(order.status.as_str(), "failed" | "refunded");
        if !(open || recent) || order.heleket_uuid.is_none() {
            return Ok(order);
        }
        if !self
            .cache
            .claim(&format!("order:check:{id}"), self.status_check_cooldown)
            .await?
        {
            return Ok(order);
        }
        self.sync(&order).await
    }

    /// Support's "resend the pay link": only an open order whose invoice
    /// has a link and has not expired; the buyer gets it in their language.
    pub async fn resend_payment_link(&self, order_id: &str) -> Result<Order, ServiceError> {
        let id = parse_order_id(order_id)?;
        let order = orders::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("order {order_id}")))?;
        if !matches!(order.status.as_str(), "new" | "pending") {
            return Err(ServiceError::Conflict(format!(
                "order {order_id} is {}: only an open order's link can be sent",
                order.status
            )));
        }
        let Some(url) = order.pay_url.clone().filter(|u| !u.is_empty()) else {
            return Err(ServiceError::Conflict(format!(
                "order {order_id} has no invoice yet"
            )));
        };
        if order
            .expires_at
            .is_some_and(|at| at <= time::OffsetDateTime::now_utc())
        {
            return Err(ServiceError::Conflict(format!(
                "the invoice of order {order_id} has expired; the customer can start a new order"
            )));
        }
        self.notifier
            .pay_link(&order, &url)
            .await
            .map_err(|e| ServiceError::Unavailable(format!("telegram: {e}")))?;
        Ok(order)
    }

    /// Asks Heleket for the order's invoice and applies what it says.
    pub async fn sync(&self, order: &Order) -> Result<Order, ServiceError> {
        let inv = match &order.heleket_uuid {
            Some(uuid) => self.heleket.invoice_by_uuid(uuid).await,
            // Stored but the invoice was never attached (we died in between):
            // Heleket knows it by our order id, if it was created at all.
            None => self.heleket.invoice_by_order(&order.id.to_string()).await,
        };
        let inv = match inv {
            Ok(inv) => inv,
            Err(e) if e.is_unavailable() => return Err(ServiceError::Unavailable(e.to_string())),
            // Heleket never created an invoice for it and it is old: nobody can pay it.
            Err(_)
                if order.heleket_uuid.is_none()
                    && order.created_at < time::OffsetDateTime::now_utc() - ABANDONED_AFTER =>
            {
                orders::mark_failed(&self.db, order.id).await?;
                return Ok(orders::get(&self.db, order.id)
                    .await?
                    .unwrap_or_else(|| order.clone()));
            }
            Err(e) => {
                return Err(ServiceError::Internal(anyhow::anyhow!(
                    "payment info for {}: {e}",
                    order.id
                )));
            }
        };
        Ok(self.apply(order, &inv).await?.1)
    }

    /// Applies an invoice Heleket confirmed and sends what follows from it:
    /// the one way a status reaches an order (creation, callbacks, the
    /// reconciler, "check status"). An invoice that does not match the order
    /// changes nothing: it is recorded and the admins are told.
    async fn apply(&self, order: &Order, inv: &Invoice) -> Result<(Effect, Order), ServiceError> {
        let status = inv.status();
        if let Some(reason) = mismatch(order, inv) {
            metrics::counter!("heleket_invoice_mismatches_total").increment(1);
            let amount = inv.amount_text();
            let first = orders::record_mismatch(
                &self.db,
                &orders::Mismatch {
                    order_id: order.id,
                    invoice_uuid: &inv.uuid,
                    status,
                    reason: &reason,
                    invoice_order_id: inv.order_id.as_deref(),
                    invoice_amount: amount.as_deref(),
                    invoice_currency: inv.currency.as_deref(),
                },
            )
            .await?;
            if first {
                tracing::warn!(order_id = %order.id, invoice = %inv.uuid, status, %reason, "confirmed invoice does not match its order; nothing applied");
                self.notifier
                    .mismatch(order, &inv.uuid, status, &reason)
                    .await;
            } else {
                tracing::info!(order_id = %order.id, invoice = %inv.uuid, status, "invoice mismatch seen again (already recorded)");
            }
            return Ok((Effect::Mismatch, order.clone()));
        }
        if order.heleket_uuid.is_none() {
            let url = inv.url.clone().unwrap_or_default();
            orders::attach_invoice(&self.db, order.id, &inv.uuid, &url, inv.expires_at()).await?;
        }
        let id = order.id;
        let (effect, order) = orders::apply_status(&self.db, id, status).await?;
        match effect {
            Effect::Credited => {
                metrics::counter!("stars_credited_total").increment(order.stars as u64);
                tracing::info!(order_id = %id, stars = order.stars, user_id = order.user_id, "stars credited");
                // The credit is committed: nothing after this line may fail the call,
                // or a redelivery would find nothing to do and the buyer would never hear.
                let balance = orders::balance(&self.db, order.user_id).await.ok();
                self.notifier.paid(&order, balance).await;
            }
            Effect::Underpaid => self.notifier.underpaid(&order).await,
            Effect::Closed => self.notifier.closed(&order).await,
            Effect::Refunded => {
                metrics::counter!("orders_refunded_total").increment(1);
                tracing::warn!(order_id = %id, stars = order.stars, user_id = order.user_id, credited = order.credited_at.is_some(), "order refunded");
                self.notifier.refunded(&order).await;
            }
            Effect::Mismatch | Effect::Nothing => {}
        }
        Ok((effect, order))
    }

    /// A Heleket callback: address and signature checked, claimed once by
    /// `(uuid, status)`, confirmed with Heleket, then applied.
    pub async fn handle_callback(
        &self,
        raw: &[u8],
        source_ip: &str,
    ) -> Result<String, ServiceError> {
        let ip: Option<IpAddr> = source_ip.parse().ok();
        if !self.allowed_ips.is_empty() && !ip.is_some_and(|ip| self.allowed_ips.contains(&ip)) {
            metrics::counter!("heleket_callbacks_total", "outcome" => "forbidden_ip").increment(1);
            tracing::warn!(source_ip, "callback from an address that is not Heleket's");
            return Err(ServiceError::Forbidden(format!(
                "callbacks are not accepted from {source_ip}"
            )));
        }
        let payload = match callback::verify(raw, self.heleket.config().api_key.expose_secret()) {
            Ok(p) => p,
            Err(VerifyError::Malformed(m)) => {
                metrics::counter!("heleket_callbacks_total", "outcome" => "malformed").increment(1);
                return Err(ServiceError::InvalidInput(format!(
                    "malformed callback: {m}"
                )));
            }
            Err(e) => {
                metrics::counter!("heleket_callbacks_total", "outcome" => "bad_sign").increment(1);
                self.note_bad_sign(source_ip).await;
                tracing::warn!(source_ip, error = %e, "callback failed verification");
                return Err(ServiceError::Unauthorized);
            }
        };
        if payload.kind.as_deref().is_some_and(|k| k != "payment") {
            return Ok(format!(
                "ignored {} callback",
                payload.kind.unwrap_or_default()
            ));
        }
        let id = parse_order_id(&payload.order_id)?;
        let order = orders::get(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("order {}", payload.order_id)))?;
        if order
            .heleket_uuid
            .as_deref()
            .is_some_and(|u| u != payload.uuid)
        {
            return Err(ServiceError::InvalidInput(
                "invoice does not belong to this order".into(),
            ));
        }

        match claims::claim(
            &self.db,
            &payload.uuid,
            &payload.status,
            self.callback_lease,
        )
        .await?
        {
            Claim::Done => {
                metrics::counter!("heleket_callbacks_total", "outcome" => "duplicate").increment(1);
                return Ok("duplicate".into());
            }
            Claim::Busy => {
                metrics::counter!("heleket_callbacks_total", "outcome" => "busy").increment(1);
                return Err(ServiceError::Unavailable(
                    "this callback is being processed".into(),
                ));
            }
            Claim::Won => {}
        }
        let result = self
            .confirm_and_apply(&order, &payload.uuid, &payload.status)
            .await;
        match &result {
            Ok(outcome) => {
                claims::finish(&self.db, &payload.uuid, &payload.status, outcome).await?
            }
            // Let a redelivery (or the reconciler) try again.
            Err(_) => claims::release(&self.db, &payload.uuid, &payload.status).await?,
        }
        result
    }

    async fn confirm_and_apply(
        &self,
        order: &Order,
        uuid: &str,
        claimed: &str,
    ) -> Result<String, ServiceError> {
        // The callback is a signed hint; Heleket's own record decides.
        let inv = self.heleket.invoice_by_uuid(uuid).await.map_err(|e| {
            if e.is_unavailable() {
                ServiceError::Unavailable(format!("cannot confirm with Heleket: {e}"))
            } else {
                ServiceError::InvalidInput(format!("Heleket does not confirm invoice {uuid}: {e}"))
            }
        })?;
        let confirmed = inv.status().to_string();
        let (effect, _) = self.apply(order, &inv).await?;
        if effect == Effect::Mismatch {
            // Recorded and the admins told; a redelivery would find the same.
            metrics::counter!("heleket_callbacks_total", "outcome" => "mismatch").increment(1);
            return Ok(format!("{confirmed}: mismatch"));
        }
        let claimed_credit = orders::meaning(claimed) == Meaning::Credit;
        if claimed_credit && orders::meaning(&confirmed) != Meaning::Credit {
            metrics::counter!("heleket_callbacks_total", "outcome" => "unconfirmed").increment(1);
            tracing::warn!(order_id = %order.id, claimed, %confirmed, "callback status not confirmed by Heleket");
            return Err(ServiceError::Conflict(format!(
                "callback says {claimed} but Heleket reports {confirmed}"
            )));
        }
        metrics::counter!("heleket_callbacks_total", "outcome" => "applied").increment(1);
        Ok(format!("{confirmed}: {effect:?}").to_lowercase())
    }

    async fn note_bad_sign(&self, source_ip: &str) {
        let alert = {
            let mut w = self.bad_signs.lock().expect("bad-sign counter poisoned");
            if w.0.elapsed() > BAD_SIGN_WINDOW {
                *w = (Instant::now(), 0);
            }
            w.1 += 1;
            w.1 == BAD_SIGN_ALERT_AFTER
        };
        if alert {
            self.notifier
                .to_admins(&format!(
                    "🚨 {BAD_SIGN_ALERT_AFTER} Heleket callbacks failed signature verification within {} minutes (last from {source_ip}). Check API_KEY or look for forgery attempts.",
                    BAD_SIGN_WINDOW.as_secs() / 60
                ))
                .await;
        }
    }

    pub async fn balance(&self, user_id: i64) -> Result<i64, ServiceError> {
        Ok(orders::balance(&self.db, user_id).await?)
    }

    pub async fn history(&self, user_id: i64, limit: i64) -> Result<Vec<Order>, ServiceError> {
        Ok(orders::list_for_user(&self.db, user_id, limit.clamp(1, 50)).await?)
    }
}

/// Why a confirmed invoice is not this order's, if it is not: its order_id
/// (always present), uuid, amount and currency must be the order's exactly
/// (amounts as decimals: "15.0" is 15.00000000; currency codes ignore case).
fn mismatch(order: &Order, inv: &Invoice) -> Option<String> {
    let mut why = Vec::new();
    match inv.order_id.as_deref() {
        None => why.push("order_id missing".to_string()),
        Some(o) if o != order.id.to_string() => why.push(format!("order_id {o}")),
        Some(_) => {}
    }
    if let Some(u) = order.heleket_uuid.as_deref()
        && u != inv.uuid
    {
        why.push(format!("invoice {} instead of {u}", inv.uuid));
    }
    match inv.amount() {
        Some(a) if a == order.amount => {}
        Some(a) => why.push(format!("amount {a}, order {}", order.amount_text())),
        None => why.push(format!(
            "amount {} unreadable",
            inv.amount_text().unwrap_or_else(|| "missing".into())
        )),
    }
    match inv.currency.as_deref() {
        Some(c) if c.eq_ignore_ascii_case(&order.currency) => {}
        Some(c) => why.push(format!("currency {c}, order {}", order.currency)),
        None => why.push("currency missing".to_string()),
    }
    (!why.is_empty()).then(|| why.join("; "))
}

fn parse_order_id(s: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(s).map_err(|_| ServiceError::NotFound(format!("order {s}")))
}

impl From<HeleketError> for ServiceError {
    fn from(e: HeleketError) -> Self {
        if e.is_unavailable() {
            ServiceError::Unavailable(e.to_string())
        } else {
            ServiceError::Internal(anyhow::anyhow!(e))
        }
    }
}

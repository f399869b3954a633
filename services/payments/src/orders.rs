//! Orders and the ledger (tables owned by this service).
//!
//! [`apply_status`] is the one place an order changes because of Heleket:
//! callbacks, the reconciler and the "check status" button all end here, in
//! one transaction holding the order's row lock, with the ledger's
//! `UNIQUE (order_id, reason)` as the last line of defence. So an order
//! credits at most once however many paths race.

use rust_decimal::Decimal;
use sqlx::{FromRow, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, FromRow)]
pub struct Order {
    pub id: Uuid,
    pub user_id: i64,
    pub chat_id: i64,
    pub stars: i64,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub heleket_uuid: Option<String>,
    pub pay_url: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub credited_at: Option<OffsetDateTime>,
    pub language: String,
    pub created_at: OffsetDateTime,
}

impl Order {
    /// The amount as invoiced, in cents ("1.50"): the column keeps 8 decimals.
    pub fn amount_text(&self) -> String {
        let mut a = self.amount.round_dp(2);
        a.rescale(2);
        a.to_string()
    }
}

/// The columns of [`Order`], as a literal so queries stay `&'static str`.
macro_rules! order_columns {
    () => {
        "id, user_id, chat_id, stars, amount, currency, status, heleket_uuid, \
         pay_url, expires_at, credited_at, language, created_at"
    };
}

/// What a Heleket status means for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// paid, paid_over: credit the pack.
    Credit,
    /// wrong_amount: money arrived but too little; credit nothing, tell people.
    Underpaid,
    /// cancel, fail, system_fail: closed without payment.
    Closed,
    /// refund, refund_paid: the money went back to the payer.
    Refunded,
    /// Not final yet (check, process, confirm_check, wrong_amount_waiting, locked, refunds in progress).
    Pending,
    /// A status we do not know: recorded, never guessed.
    Unknown,
}

pub fn meaning(status: &str) -> Meaning {
    match status {
        "paid" | "paid_over" => Meaning::Credit,
        "wrong_amount" => Meaning::Underpaid,
        "cancel" | "fail" | "system_fail" => Meaning::Closed,
        "refund" | "refund_paid" => Meaning::Refunded,
        // `locked` is AML review: it can still be released, so keep waiting.
        "check"
        | "confirm_check"
        | "process"
        | "wrong_amount_waiting"
        | "locked"
        | "refund_process"
        | "refund_fail" => Meaning::Pending,
        _ => Meaning::Unknown,
    }
}

/// What [`apply_status`] changed: notifications follow from it, so each is sent once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Credited,
    Underpaid,
    Closed,
    /// A refund was recorded (and the stars debited if they had been credited).
    Refunded,
    /// The confirmed invoice does not match the order: nothing applied, recorded.
    Mismatch,
    Nothing,
}

/// Stores a new order; with an idempotency key already used, stores nothing
/// and returns the order of that key (`false`: not created now).
pub async fn insert(db: &PgPool, o: &NewOrder<'_>) -> Result<(Order, bool), sqlx::Error> {
    let inserted: Option<Order> = sqlx::query_as(concat!(
        "INSERT INTO orders (id, user_id, chat_id, stars, amount, currency, language, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING ",
        order_columns!(),
        ""
    ))
    .bind(Uuid::new_v4())
    .bind(o.user_id)
    .bind(o.chat_id)
    .bind(o.stars)
    .bind(o.amount)
    .bind(o.currency)
    .bind(o.language)
    .bind(o.idempotency_key)
    .fetch_optional(db)
    .await?;
    if let Some(order) = inserted {
        return Ok((order, true));
    }
    let existing = sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE idempotency_key = $1"
    ))
    .bind(o.idempotency_key)
    .fetch_one(db)
    .await?;
    Ok((existing, false))
}

pub struct NewOrder<'a> {
    pub user_id: i64,
    pub chat_id: i64,
    pub stars: i64,
    pub amount: Decimal,
    pub currency: &'a str,
    pub language: &'a str,
    /// None: every call creates an order.
    pub idempotency_key: Option<&'a str>,
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<Option<Order>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn list_for_user(
    db: &PgPool,
    user_id: i64,
    limit: i64,
) -> Result<Vec<Order>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2"
    ))
    .bind(user_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Orders already closed or credited but recent (created within `window`),
/// not looked at for `recheck_every` or a quarter of their age, whichever is
/// longer: money can still arrive after an order expired, and a credited
/// order can be refunded, but both get rarer with age, so an order is asked
/// about some 20 times in its window instead of once per `recheck_every`.
/// Least recently looked at first.
pub async fn recent_final_orders(
    db: &PgPool,
    window: std::time::Duration,
    recheck_every: std::time::Duration,
    limit: i64,
) -> Result<Vec<Order>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders
         WHERE heleket_uuid IS NOT NULL AND status NOT IN ('new', 'pending', 'failed', 'refunded')
           AND created_at > now() - make_interval(secs => $1)
           AND updated_at < now() - GREATEST(make_interval(secs => $2), (now() - created_at) / 4)
         ORDER BY updated_at LIMIT $3"
    ))
    .bind(window.as_secs_f64())
    .bind(recheck_every.as_secs_f64())
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Orders not final yet, least recently looked at first.
pub async fn open_orders(
    db: &PgPool,
    min_age: std::time::Duration,
    limit: i64,
) -> Result<Vec<Order>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders
         WHERE status IN ('new', 'pending') AND updated_at < now() - make_interval(secs => $1)
         ORDER BY updated_at LIMIT $2"
    ))
    .bind(min_age.as_secs_f64())
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Marks an order as looked at, so the reconciler rotates through all of them.
pub async fn touch(db: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records the invoice Heleket created for the order.
pub async fn attach_invoice(
    db: &PgPool,
    id: Uuid,
    invoice_uuid: &str,
    pay_url: &str,
    expires_at: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET heleket_uuid = $2, pay_url = $3, expires_at = $4,
            -- 'failed' too: a redelivered press may have given up on the invoice
            -- while the first attempt was still creating it; the invoice exists,
            -- so the order is payable and must stay in the reconciler's view.
            status = CASE WHEN status IN ('new', 'failed') THEN 'pending' ELSE status END,
            updated_at = now()
         WHERE id = $1 AND (heleket_uuid IS NULL OR heleket_uuid = $2)",
    )
    .bind(id)
    .bind(invoice_uuid)
    .bind(pay_url)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The invoice could not be created: the order is closed, the user may start another.
pub async fn mark_failed(db: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET status = 'failed', updated_at = now() WHERE id = $1 AND status = 'new'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// What Heleket reported for an invoice that does not match its order.
pub struct Mismatch<'a> {
    pub order_id: Uuid,
    pub invoice_uuid: &'a str,
    pub status: &'a str,
    pub reason: &'a str,
    pub invoice_order_id: Option<&'a str>,
    pub invoice_amount: Option<&'a str>,
    pub invoice_currency: Option<&'a str>,
}

/// Records a mismatch for an operator; true the first time this one is seen.
pub async fn record_mismatch(db: &PgPool, m: &Mismatch<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO payment_mismatches
            (order_id, invoice_uuid, status, reason, invoice_order_id, invoice_amount, invoice_currency)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (order_id, invoice_uuid, status, reason) DO NOTHING",
    )
    .bind(m.order_id)
    .bind(m.invoice_uuid)
    .bind(m.status)
    .bind(m.reason)
    .bind(m.invoice_order_id)
    .bind(m.invoice_amount)
    .bind(m.invoice_currency)
    .execute(db)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn balance(db: &PgPool, user_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(SUM(delta), 0)::BIGINT FROM ledger WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Applies a status confirmed by Heleket to an order.
pub async fn apply_status(
    db: &PgPool,
    id: Uuid,
    status: &str,
) -> Result<(Effect, Order), sqlx::Error> {
    let mut tx = db.begin().await?;
    let order: Order = sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;

    let open = matches!(order.status.as_str(), "new" | "pending");
    let effect = match meaning(status) {
        // Money received counts even if we had closed the order (a late payment).
        Meaning::Credit if order.credited_at.is_none() && order.status != "refunded" => {
            let inserted = sqlx::query(
                "INSERT INTO ledger (user_id, order_id, delta, reason) VALUES ($1, $2, $3, 'purchase')
                 ON CONFLICT (order_id, reason) DO NOTHING",
            )
            .bind(order.user_id)
            .bind(order.id)
            .bind(order.stars)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            set_status(&mut tx, id, status, status, inserted == 1).await?;
            if inserted == 1 {
                Effect::Credited
            } else {
                Effect::Nothing
            }
        }
        Meaning::Underpaid if open => {
            set_status(&mut tx, id, status, status, false).await?;
            Effect::Underpaid
        }
        Meaning::Closed if open => {
            set_status(&mut tx, id, status, status, false).await?;
            Effect::Closed
        }
        // The money went back: stars credited for it are debited (once: the
        // ledger's UNIQUE (order_id, reason)), and the order says "refunded".
        Meaning::Refunded if order.status != "refunded" => {
            if order.credited_at.is_some() {
                sqlx::query(
                    "INSERT INTO ledger (user_id, order_id, delta, reason) VALUES ($1, $2, $3, 'refund')
                     ON CONFLICT (order_id, reason) DO NOTHING",
                )
                .bind(order.user_id)
                .bind(order.id)
                .bind(-order.stars)
                .execute(&mut *tx)
                .await?;
            }
            set_status(&mut tx, id, "refunded", status, false).await?;
            Effect::Refunded
        }
        Meaning::Pending if open => {
            set_status(&mut tx, id, "pending", status, false).await?;
            Effect::Nothing
        }
        Meaning::Unknown => {
            tracing::warn!(order_id = %id, status, "unknown Heleket status recorded");
            sqlx::query("UPDATE orders SET heleket_status = $2, updated_at = now() WHERE id = $1")
                .bind(id)
                .bind(status)
                .execute(&mut *tx)
                .await?;
            Effect::Nothing
        }
        _ => Effect::Nothing,
    };
    let order: Order = sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((effect, order))
}

async fn set_status(
    tx: &mut sqlx::PgConnection,
    id: Uuid,
    status: &str,
    heleket_status: &str,
    credited: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE orders SET status = $2, heleket_status = $3,
            credited_at = CASE WHEN $4 THEN now() ELSE credited_at END, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(heleket_status)
    .bind(credited)
    .execute(tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_as_heleket_documents_them() {
        assert_eq!(meaning("paid"), Meaning::Credit);
        assert_eq!(meaning("paid_over"), Meaning::Credit);
        assert_eq!(meaning("wrong_amount"), Meaning::Underpaid);
        assert_eq!(meaning("cancel"), Meaning::Closed);
        assert_eq!(meaning("system_fail"), Meaning::Closed);
        assert_eq!(meaning("check"), Meaning::Pending);
        assert_eq!(meaning("locked"), Meaning::Pending);
        assert_eq!(meaning("refund_paid"), Meaning::Refunded);
        assert_eq!(meaning("refund_process"), Meaning::Pending);
        assert_eq!(meaning("teleported"), Meaning::Unknown);
    }
}

//! Purchases that cannot be cut in half: a confirmed invoice must match its
//! order before anything is credited, the breaker lets exactly one trial
//! through after an outage, and money that arrives after an order closed is
//! still credited (once), a refund is never silently ignored.

use crate::harness::{ADMIN, Fleet, button_data, order_id_of, user};
use sandbox::heleket::Misreport;
use std::time::Duration;

async fn order_status(fleet: &Fleet, order_id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = $1::uuid")
        .bind(order_id)
        .fetch_one(&fleet.pool)
        .await
        .unwrap()
}

fn count_texts(fleet: &Fleet, chat: i64, needle: &str) -> usize {
    fleet
        .texts_to(chat)
        .iter()
        .filter(|t| t.contains(needle))
        .count()
}

// ---------------------------------------------------------------- item 4

/// The invoice Heleket confirms says something other than the order: a paid
/// callback, "check status" and the reconciler all credit nothing, the payment
/// is recorded for an operator, and the admins are told once.
async fn a_mismatched_invoice_credits_nothing(user_id: i64, misreport: Misreport, reason: &str) {
    let fleet = Fleet::start_with(|env| {
        env.set("RECONCILE_INTERVAL", "0.3");
        env.set("RECONCILE_MIN_AGE", "0");
    })
    .await;
    let u = user(user_id);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    let order = fleet.press(&u, &packs, "buy:1000").await;
    let order_id = order_id_of(&order);
    fleet.heleket.misreport(&order_id, misreport);

    fleet.heleket.set_status(&order_id, "paid").unwrap();
    let status = fleet
        .heleket
        .send_callback(&order_id, "paid")
        .await
        .unwrap();
    assert_eq!(status, 200, "recorded, nothing to redeliver");
    let check = button_data(&order)
        .into_iter()
        .find(|d| d.starts_with("chk:"))
        .unwrap();
    fleet.press(&u, &order, &check).await;
    fleet.wait_text(ADMIN, "does not match its order").await;
    // Several reconciler passes over the same invoice.
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(fleet.balance_of(u.id).await, 0, "nothing credited");
    assert_eq!(count_texts(&fleet, u.id, "Payment confirmed"), 0);
    assert_ne!(order_status(&fleet, &order_id).await, "paid");
    let alerts = count_texts(&fleet, ADMIN, "does not match its order");
    assert_eq!(alerts, 1, "admins told once: {:#?}", fleet.texts_to(ADMIN));
    let alert = fleet.wait_text(ADMIN, "does not match its order").await;
    assert!(
        alert.params["text"].as_str().unwrap().contains(&order_id),
        "the alert names the order"
    );
    let recorded: Vec<(String, String)> =
        sqlx::query_as("SELECT status, reason FROM payment_mismatches WHERE order_id = $1::uuid")
            .bind(&order_id)
            .fetch_all(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].0, "paid");
    assert!(recorded[0].1.contains(reason), "{recorded:?}");
    fleet.stop().await;
}

#[tokio::test]
async fn a_paid_invoice_for_a_lower_amount_credits_nothing_and_alerts_the_admins() {
    // The order is 1000 stars for 15.00 USD; Heleket's record says 1.50.
    let m = Misreport {
        amount: Some("1.50".into()),
        ..Default::default()
    };
    a_mismatched_invoice_credits_nothing(3001, m, "amount").await;
}

#[tokio::test]
async fn a_paid_invoice_in_another_currency_credits_nothing_and_alerts_the_admins() {
    let m = Misreport {
        currency: Some("EUR".into()),
        ..Default::default()
    };
    a_mismatched_invoice_credits_nothing(3002, m, "currency").await;
}

#[tokio::test]
async fn a_paid_invoice_without_an_order_id_credits_nothing_and_alerts_the_admins() {
    let m = Misreport {
        omit_order_id: true,
        ..Default::default()
    };
    a_mismatched_invoice_credits_nothing(3003, m, "order_id").await;
}

#[tokio::test]
async fn the_same_amount_written_with_other_decimals_is_credited() {
    // "15.0" and the order's 15.00000000 are the same money.
    let fleet = Fleet::start().await;
    let u = user(3004);
    let order_id = fleet.order_pack(&u, 1000).await;
    fleet.heleket.misreport(
        &order_id,
        Misreport {
            amount: Some("15.0".into()),
            currency: Some("usd".into()),
            ..Default::default()
        },
    );
    assert_eq!(fleet.heleket.pay(&order_id).await.unwrap(), 200);
    fleet.wait_text(u.id, "1000 ⭐ credited").await;
    assert_eq!(fleet.balance_of(u.id).await, 1000);
    fleet.stop().await;
}

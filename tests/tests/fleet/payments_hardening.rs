//! Purchases that cannot be cut in half: a confirmed invoice must match its
//! order before anything is credited, the breaker lets exactly one trial
//! through after an outage, and money that arrives after an order closed is
//! still credited (once), a refund is never silently ignored.

use crate::harness::{ADMIN, Fleet, button_data, order_id_of, user};
use futures::StreamExt;
use proto::payments::CreateOrderRequest;
use proto::payments::payments_client::PaymentsClient;
use sandbox::heleket::{Misreport, Mode};
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

/// Lets the reconciler look at closed orders again at once (they are
/// rechecked at a slower pace than open ones): "some minutes later".
async fn let_time_pass(fleet: &Fleet, order_id: &str) {
    sqlx::query("UPDATE orders SET updated_at = now() - interval '1 hour' WHERE id = $1::uuid")
        .bind(order_id)
        .execute(&fleet.pool)
        .await
        .unwrap();
}

fn invoice_requests(fleet: &Fleet) -> Vec<sandbox::heleket::RecordedRequest> {
    fleet
        .heleket
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/payment")
        .collect()
}

async fn payments_client(fleet: &Fleet) -> PaymentsClient<tonic::transport::Channel> {
    let url = fleet
        .env
        .optional("PAYMENTS_GRPC_URL")
        .expect("payments url");
    PaymentsClient::connect(url).await.expect("payments gRPC")
}

fn create_request(user_id: i64) -> CreateOrderRequest {
    CreateOrderRequest {
        user_id,
        chat_id: user_id,
        stars: 100,
        // language left out: payments answers in English
        ..Default::default()
    }
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

// ---------------------------------------------------------------- item 5

#[tokio::test]
async fn one_failing_purchase_with_its_retries_counts_as_one_failure() {
    // Threshold 3 (the harness): three failed purchases open it, not one.
    let fleet = Fleet::start().await;
    fleet.heleket.set_mode(Mode::Fail);
    let mut client = payments_client(&fleet).await;
    for n in 1..=2 {
        let err = client.create_order(create_request(3101)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert_eq!(
            invoice_requests(&fleet).len(),
            3 * n,
            "each purchase is tried with its retries"
        );
        let (_, body) = fleet.get("/health/payment").await;
        assert_eq!(
            body["detail"]["details"]["circuit_breaker"], "closed",
            "after {n} failed purchase(s): {body}"
        );
    }
    let err = client.create_order(create_request(3101)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    let (_, body) = fleet.get("/health/payment").await;
    assert_eq!(body["detail"]["details"]["circuit_breaker"], "open");
    // Open: the next purchase does not reach Heleket.
    let before = invoice_requests(&fleet).len();
    let err = client.create_order(create_request(3101)).await.unwrap_err();
    assert!(err.message().contains("temporarily unavailable"), "{err:?}");
    assert_eq!(invoice_requests(&fleet).len(), before);
    fleet.stop().await;
}

#[tokio::test]
async fn a_heleket_4xx_is_not_an_outage() {
    let fleet = Fleet::start().await;
    fleet.heleket.set_mode(Mode::Reject);
    let mut client = payments_client(&fleet).await;
    for _ in 0..5 {
        let err = client.create_order(create_request(3102)).await.unwrap_err();
        assert_eq!(
            err.code(),
            tonic::Code::Unavailable,
            "the user is told to try later"
        );
    }
    assert_eq!(
        invoice_requests(&fleet).len(),
        5,
        "refusals are not retried"
    );
    let (_, body) = fleet.get("/health/payment").await;
    assert_eq!(
        body["detail"]["details"]["circuit_breaker"], "closed",
        "{body}"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn the_health_probe_does_not_close_a_half_open_breaker() {
    let fleet = Fleet::start().await;
    // Invoices fail, everything else (the probe's /v1/payment/services) answers.
    fleet.heleket.set_path_mode("/v1/payment", Some(Mode::Fail));
    let mut client = payments_client(&fleet).await;
    for _ in 0..3 {
        client.create_order(create_request(3103)).await.unwrap_err();
    }
    fleet.wait_text(ADMIN, "circuit breaker is OPEN").await;
    // Past the recovery time (1 s), operators poll the health endpoint.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..3 {
        let (_, body) = fleet.get("/health/payment").await;
        assert_eq!(
            body["detail"]["details"]["heleket_reachable"], true,
            "{body}"
        );
        assert_ne!(
            body["detail"]["details"]["circuit_breaker"], "closed",
            "a probe is not a purchase: {body}"
        );
    }
    // The next purchase is the trial; it fails, so the breaker opens again.
    let before = invoice_requests(&fleet).len();
    let err = client.create_order(create_request(3103)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert_eq!(
        invoice_requests(&fleet).len(),
        before + 1,
        "one trial, no retries"
    );
    let (_, body) = fleet.get("/health/payment").await;
    assert_eq!(
        body["detail"]["details"]["circuit_breaker"], "open",
        "{body}"
    );
    assert_eq!(
        count_texts(&fleet, ADMIN, "circuit breaker is closed"),
        0,
        "{:#?}",
        fleet.texts_to(ADMIN)
    );
    fleet.stop().await;
}

#[tokio::test]
async fn after_the_recovery_time_twenty_concurrent_purchases_send_heleket_one_trial() {
    let fleet = Fleet::start().await;
    fleet.heleket.set_mode(Mode::Fail);
    let mut client = payments_client(&fleet).await;
    for _ in 0..3 {
        client.create_order(create_request(3104)).await.unwrap_err();
    }
    fleet.wait_text(ADMIN, "circuit breaker is OPEN").await;
    // Still down, now hanging: the trial waits for PAYMENT_TIMEOUT (2 s).
    fleet.heleket.set_mode(Mode::Hang);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fleet.heleket.clear_requests();

    let mut calls: futures::stream::FuturesUnordered<_> = (0..20)
        .map(|i| {
            let mut c = client.clone();
            async move { c.create_order(create_request(3200 + i)).await }
        })
        .collect();
    let mut refused = Vec::new();
    for _ in 0..19 {
        refused.push(calls.next().await.unwrap().unwrap_err());
    }
    // 19 answered while the one trial is still hanging in Heleket: they did not wait for it.
    let hanging = invoice_requests(&fleet);
    assert_eq!(hanging.len(), 1, "exactly one trial reached Heleket");
    assert_eq!(hanging[0].status, 0, "the trial has not been answered yet");
    for e in &refused {
        assert_eq!(e.code(), tonic::Code::Unavailable);
        assert!(e.message().contains("temporarily unavailable"), "{e:?}");
    }
    let trial = calls.next().await.unwrap().unwrap_err();
    assert_eq!(trial.code(), tonic::Code::Unavailable);
    assert_eq!(invoice_requests(&fleet).len(), 1);
    fleet.stop().await;
}

// ---------------------------------------------------------------- item 8

#[tokio::test]
async fn a_payment_after_the_order_expired_is_credited_once_by_the_reconciler() {
    let fleet = Fleet::start_with(|env| {
        env.set("RECONCILE_INTERVAL", "0.3");
        env.set("RECONCILE_MIN_AGE", "0");
    })
    .await;
    let u = user(3301);
    let order_id = fleet.order_pack(&u, 100).await;
    fleet.heleket.expire(&order_id).unwrap();
    fleet.wait_text(u.id, "closed without payment").await;
    assert_eq!(order_status(&fleet, &order_id).await, "cancel");

    // The buyer's transaction lands late; no callback ever comes.
    fleet.heleket.set_status(&order_id, "paid").unwrap();
    let_time_pass(&fleet, &order_id).await;
    fleet.wait_text(u.id, "100 ⭐ credited").await;
    assert_eq!(fleet.balance_of(u.id).await, 100);
    assert_eq!(order_status(&fleet, &order_id).await, "paid");

    // More passes, and the late callback after all: nothing more.
    let_time_pass(&fleet, &order_id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        fleet
            .heleket
            .send_callback(&order_id, "paid")
            .await
            .unwrap(),
        200
    );
    assert_eq!(fleet.balance_of(u.id).await, 100);
    assert_eq!(count_texts(&fleet, u.id, "Payment confirmed"), 1);
    fleet.stop().await;
}

#[tokio::test]
async fn a_payment_after_the_order_was_cancelled_is_credited_once_by_check_status() {
    let fleet = Fleet::start().await;
    let u = user(3302);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    let order = fleet.press(&u, &packs, "buy:250").await;
    let order_id = order_id_of(&order);
    fleet.heleket.set_status(&order_id, "cancel").unwrap();
    fleet
        .heleket
        .send_callback(&order_id, "cancel")
        .await
        .unwrap();
    fleet.wait_text(u.id, "closed without payment").await;

    fleet.heleket.set_status(&order_id, "paid").unwrap();
    let check = button_data(&order)
        .into_iter()
        .find(|d| d.starts_with("chk:"))
        .unwrap();
    fleet.press(&u, &order, &check).await;
    fleet.wait_text(u.id, "250 ⭐ credited").await;
    fleet.press(&u, &order, &check).await;
    fleet.press(&u, &order, &check).await;
    assert_eq!(fleet.balance_of(u.id).await, 250);
    assert_eq!(count_texts(&fleet, u.id, "Payment confirmed"), 1);
    fleet.stop().await;
}

#[tokio::test]
async fn a_refund_of_a_credited_order_alerts_the_admins_once_and_shows_in_history() {
    let fleet = Fleet::start_with(|env| {
        env.set("RECONCILE_INTERVAL", "0.3");
        env.set("RECONCILE_MIN_AGE", "0");
    })
    .await;
    let u = user(3303);
    let order_id = fleet.order_pack(&u, 500).await;
    fleet.heleket.pay(&order_id).await.unwrap();
    fleet.wait_text(u.id, "500 ⭐ credited").await;

    fleet.heleket.set_status(&order_id, "refund_paid").unwrap();
    for _ in 0..3 {
        let status = fleet
            .heleket
            .send_callback(&order_id, "refund_paid")
            .await
            .unwrap();
        assert_eq!(status, 200);
    }
    fleet.wait_text(ADMIN, "refunded").await;
    // The reconciler looks again too.
    let_time_pass(&fleet, &order_id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    assert_eq!(
        count_texts(&fleet, ADMIN, "refunded"),
        1,
        "{:#?}",
        fleet.texts_to(ADMIN)
    );
    assert_eq!(
        fleet.balance_of(u.id).await,
        0,
        "the refunded stars are debited"
    );
    assert_eq!(order_status(&fleet, &order_id).await, "refunded");
    let history = fleet.say(&u, "/history").await;
    let h = history.params["text"].as_str().unwrap();
    assert!(h.contains("refunded"), "{h}");
    assert!(!h.contains("✅ paid"), "{h}");
    fleet.stop().await;
}

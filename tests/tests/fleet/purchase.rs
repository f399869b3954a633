//! Buying star packs through Heleket, credited exactly once (through nginx,
//! real Postgres/Redis, sandbox Heleket and Telegram).

use crate::harness::{ADMIN, API_KEY, Fleet, button_data, order_id_of, user};
use sandbox::heleket::Mode;
use std::time::Duration;

#[tokio::test]
async fn each_pack_and_a_custom_amount_can_be_bought_and_credited() {
    let fleet = Fleet::start().await;
    let u = user(2001);
    let mut expected = 0;
    for stars in [100, 250, 500, 1000] {
        let order_id = fleet.order_pack(&u, stars).await;
        let status = fleet.heleket.pay(&order_id).await.unwrap();
        assert_eq!(status, 200, "the callback through nginx is accepted");
        expected += stars;
        fleet
            .wait_text(u.id, &format!("Your balance: {expected} ⭐"))
            .await;
    }
    // A custom amount: the bot asks, shows the price, then the user pays.
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    let ask = fleet.press(&u, &packs, "buy:custom").await;
    assert!(
        ask.params["text"]
            .as_str()
            .unwrap()
            .contains("How many stars")
    );
    let confirm = fleet.say(&u, "300").await;
    let text = confirm.params["text"].as_str().unwrap();
    assert!(
        text.contains("300 ⭐") && text.contains("4.50 USD"),
        "price shown before committing: {text}"
    );
    let order = fleet.press(&u, &confirm, "buy:300").await;
    let order_id = order_id_of(&order);
    fleet.heleket.pay(&order_id).await.unwrap();
    expected += 300;
    fleet.wait_text(u.id, "300 ⭐ credited").await;

    assert_eq!(fleet.balance_of(u.id).await, expected);
    let balance = fleet.say(&u, "/balance").await;
    assert!(
        balance.params["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{expected} ⭐"))
    );
    let history = fleet.say(&u, "/history").await;
    let h = history.params["text"].as_str().unwrap();
    assert_eq!(h.matches("✅ paid").count(), 5, "{h}");
    fleet.stop().await;
}

#[tokio::test]
async fn the_pack_menu_shows_decimal_prices_and_the_order_has_a_pay_link() {
    let fleet = Fleet::start().await;
    let u = user(2002);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    let labels = packs.params["reply_markup"].to_string();
    for label in [
        "100 ⭐ — 1.50 USD",
        "250 ⭐ — 3.75 USD",
        "500 ⭐ — 7.50 USD",
        "1000 ⭐ — 15.00 USD",
    ] {
        assert!(labels.contains(label), "{label} in {labels}");
    }
    let order = fleet.press(&u, &packs, "buy:250").await;
    let text = order.params["text"].as_str().unwrap();
    assert!(text.contains("250 ⭐</b> for <b>3.75 USD"), "{text}");
    let buttons = order.params["reply_markup"].to_string();
    assert!(buttons.contains("/pay/"), "pay link: {buttons}");
    let invoice = fleet
        .heleket
        .invoice(&order_id_of(&order))
        .expect("invoice created with our order id");
    assert_eq!(invoice.amount.to_string(), "3.75");
    assert!(invoice.additional_data.unwrap().contains('/'));
    fleet.stop().await;
}

#[tokio::test]
async fn the_same_paid_callback_fifty_times_credits_once_even_a_day_later() {
    let fleet = Fleet::start().await;
    let u = user(2003);
    let order_id = fleet.order_pack(&u, 500).await;
    fleet.heleket.set_status(&order_id, "paid").unwrap();
    let body = fleet.heleket.callback_body(&order_id, "paid").unwrap();
    let url = fleet.callback_url();
    let sends = (0..50).map(|_| fleet.heleket.send_callback_to(&url, body.clone(), &[]));
    let statuses: Vec<u16> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().as_u16())
        .collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(fleet.balance_of(u.id).await, 500);

    // "A day later": every cache has forgotten (Redis flushed), the claim is old.
    fleet
        .redis
        .command(fleet.redis.master_port(), &["FLUSHALL"])
        .await
        .unwrap();
    sqlx::query("UPDATE callback_claims SET received_at = now() - interval '1 day'")
        .execute(&fleet.pool)
        .await
        .unwrap();
    let again = fleet
        .heleket
        .send_callback_to(&url, body, &[])
        .await
        .unwrap();
    assert_eq!(again, 200);
    assert_eq!(fleet.balance_of(u.id).await, 500);
    let confirmations = fleet
        .texts_to(u.id)
        .iter()
        .filter(|t| t.contains("Payment confirmed"))
        .count();
    assert_eq!(confirmations, 1, "the buyer is told once");
    fleet.stop().await;
}

#[tokio::test]
async fn forged_or_malformed_callbacks_are_refused_and_change_nothing() {
    let fleet = Fleet::start().await;
    let u = user(2004);
    let order_id = fleet.order_pack(&u, 100).await;
    fleet.heleket.set_status(&order_id, "paid").unwrap();
    let url = fleet.callback_url();
    let good = String::from_utf8(fleet.heleket.callback_body(&order_id, "paid").unwrap()).unwrap();

    let forged = good.replace("\"paid\"", "\"paid_over\"");
    let sign_start = good.find("\"sign\"").unwrap();
    let missing_sign = format!("{}}}", good[..sign_start].trim_end_matches(','));
    let unknown_order = {
        let other = uuid::Uuid::new_v4().to_string();
        let body_wo = missing_sign.replace(&order_id, &other);
        let sign = sandbox::heleket::sign(body_wo.as_bytes(), API_KEY);
        format!("{},\"sign\":\"{sign}\"}}", &body_wo[..body_wo.len() - 1])
    };
    for (what, body, want) in [
        ("forged sign", forged, 401),
        ("missing sign", missing_sign, 401),
        ("malformed JSON", "{\"uuid\":".to_string(), 400),
        ("unknown order", unknown_order, 404),
    ] {
        let status = fleet
            .heleket
            .send_callback_to(&url, body.into_bytes(), &[])
            .await
            .unwrap();
        assert_eq!(status.as_u16(), want, "{what}");
    }
    assert_eq!(fleet.balance_of(u.id).await, 0);
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1::uuid")
        .bind(&order_id)
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(status, "pending");
    fleet.stop().await;
}

#[tokio::test]
async fn a_callback_from_an_address_other_than_helekets_is_refused_even_with_a_spoofed_header() {
    // Only Heleket's real address is allowed; the test client is 127.0.0.1.
    let fleet = Fleet::start_with(|env| {
        env.set("HELEKET_ALLOWED_IPS", "31.133.220.8");
    })
    .await;
    let u = user(2005);
    let order_id = fleet.order_pack(&u, 100).await;
    fleet.heleket.set_status(&order_id, "paid").unwrap();
    let body = fleet.heleket.callback_body(&order_id, "paid").unwrap();
    let spoof = [
        ("X-Forwarded-For", "31.133.220.8"),
        ("X-Real-IP", "31.133.220.8"),
    ];
    let status = fleet
        .heleket
        .send_callback_to(&fleet.callback_url(), body, &spoof)
        .await
        .unwrap();
    assert_eq!(status, 403);
    assert_eq!(fleet.balance_of(u.id).await, 0);
    fleet.stop().await;
}

#[tokio::test]
async fn a_callback_with_escaped_slashes_in_additional_data_verifies() {
    let fleet = Fleet::start().await;
    let u = user(2006);
    let order_id = fleet.order_pack(&u, 100).await;
    fleet.heleket.set_status(&order_id, "paid").unwrap();
    let body = fleet.heleket.callback_body(&order_id, "paid").unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("telegram\\/2006\\/stars\\/100"),
        "PHP-escaped on the wire"
    );
    let status = fleet
        .heleket
        .send_callback_to(&fleet.callback_url(), body, &[])
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(fleet.balance_of(u.id).await, 100);
    fleet.stop().await;
}

#[tokio::test]
async fn a_paid_callback_that_heleket_does_not_confirm_credits_nothing() {
    let fleet = Fleet::start().await;
    let u = user(2007);
    let order_id = fleet.order_pack(&u, 250).await;
    // Correctly signed, but Heleket's payment info still says `check`.
    let body = fleet.heleket.callback_body(&order_id, "paid").unwrap();
    let status = fleet
        .heleket
        .send_callback_to(&fleet.callback_url(), body, &[])
        .await
        .unwrap();
    assert_eq!(status, 409);
    assert_eq!(fleet.balance_of(u.id).await, 0);
    // When Heleket really has the payment, the redelivered callback credits it.
    fleet.heleket.pay(&order_id).await.unwrap();
    assert_eq!(fleet.balance_of(u.id).await, 250);
    fleet.stop().await;
}

#[tokio::test]
async fn an_underpaid_invoice_credits_nothing_and_tells_the_buyer_and_the_admins() {
    let fleet = Fleet::start().await;
    let u = user(2008);
    let order_id = fleet.order_pack(&u, 1000).await;
    fleet.heleket.set_status(&order_id, "wrong_amount").unwrap();
    let status = fleet
        .heleket
        .send_callback(&order_id, "wrong_amount")
        .await
        .unwrap();
    assert_eq!(status, 200);
    fleet.wait_text(u.id, "was less than").await;
    fleet.wait_text(ADMIN, "Underpaid invoice").await;
    assert_eq!(fleet.balance_of(u.id).await, 0);
    fleet.stop().await;
}

#[tokio::test]
async fn heleket_failing_opens_the_breaker_and_users_are_told_to_try_later_at_once() {
    let fleet = Fleet::start().await;
    let u = user(2009);
    fleet.heleket.set_mode(Mode::Fail);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    // Threshold 3: three failed purchases (each with its retries) open the breaker.
    for _ in 0..3 {
        let reply = fleet.press(&u, &packs, "buy:100").await;
        assert!(
            reply.params["text"]
                .as_str()
                .unwrap()
                .contains("temporarily unavailable")
        );
    }
    let (status, body) = fleet.get("/health/payment").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["detail"]["details"]["circuit_breaker"], "open",
        "{body}"
    );
    fleet.wait_text(ADMIN, "circuit breaker is OPEN").await;

    // While open, Heleket is not even called and the answer is immediate.
    let calls_before = fleet.heleket.requests().len();
    let started = std::time::Instant::now();
    let reply = fleet.press(&u, &packs, "buy:250").await;
    assert!(
        reply.params["text"]
            .as_str()
            .unwrap()
            .contains("temporarily unavailable")
    );
    assert_eq!(
        fleet.heleket.requests().len(),
        calls_before,
        "no call while the breaker is open"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no waiting for a timeout (PAYMENT_TIMEOUT is 2 s)"
    );
    assert_eq!(
        fleet.orders_of(u.id).await,
        4,
        "orders are stored first, then closed as failed"
    );

    // After the recovery time the next purchase is the trial; its success
    // closes the breaker again (the health probe only reports).
    fleet.heleket.set_mode(Mode::Normal);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, body) = fleet.get("/health/payment").await;
    assert_eq!(
        body["detail"]["details"]["heleket_reachable"], true,
        "{body}"
    );
    let order = fleet.press(&u, &packs, "buy:100").await;
    assert!(!order_id_of(&order).is_empty());
    let (status, body) = fleet.get("/health/payment").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["detail"]["details"]["circuit_breaker"], "closed");
    fleet.wait_text(ADMIN, "circuit breaker is closed").await;
    fleet.stop().await;
}

#[tokio::test]
async fn the_reconciler_credits_a_paid_order_whose_callback_was_lost_and_closes_expired_ones() {
    let fleet = Fleet::start_with(|env| {
        env.set("RECONCILE_INTERVAL", "0.3");
        env.set("RECONCILE_MIN_AGE", "0");
    })
    .await;
    let u = user(2010);
    let paid = fleet.order_pack(&u, 100).await;
    let expired = fleet.order_pack(&u, 250).await;
    fleet.heleket.set_status(&paid, "paid").unwrap(); // no callback ever comes
    fleet.heleket.expire(&expired).unwrap();
    fleet.wait_text(u.id, "100 ⭐ credited").await;
    fleet.wait_text(u.id, "closed without payment").await;
    assert_eq!(fleet.balance_of(u.id).await, 100);
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1::uuid")
        .bind(&expired)
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(status, "cancel");
    fleet.stop().await;
}

#[tokio::test]
async fn invalid_custom_amounts_get_clear_replies_and_create_no_order() {
    let fleet = Fleet::start().await;
    let u = user(2011);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    fleet.press(&u, &packs, "buy:custom").await;
    for (input, expect) in [
        ("0", "minimum is 50"),
        ("-20", "minimum is 50"),
        ("lots", "not a whole number"),
        ("12.5", "not a whole number"),
        ("1000001", "maximum is 100000"),
    ] {
        let reply = fleet.say(&u, input).await;
        let text = reply.params["text"].as_str().unwrap();
        assert!(text.contains(expect), "{input:?} → {text}");
    }
    // Forged button data is refused by payments too, with a clear reply.
    let reply = fleet.press(&u, &packs, "buy:7").await;
    assert!(
        reply.params["text"]
            .as_str()
            .unwrap()
            .contains("can't be ordered")
    );
    assert_eq!(fleet.orders_of(u.id).await, 0);
    // /cancel leaves the dialog: a number is no longer taken as an amount.
    fleet.say(&u, "/cancel").await;
    let reply = fleet.say(&u, "300").await;
    assert!(
        reply.params["text"]
            .as_str()
            .unwrap()
            .contains("didn't understand")
    );
    fleet.stop().await;
}

#[tokio::test]
async fn payments_killed_between_claim_and_credit_credits_exactly_once_after_restart() {
    let mut fleet = Fleet::start_with(|env| {
        env.set("CALLBACK_LEASE", "1");
    })
    .await;
    let u = user(2012);
    let order_id = fleet.order_pack(&u, 500).await;
    let invoice = fleet.heleket.set_status(&order_id, "paid").unwrap();
    // The service dies right after claiming the callback: the claim is there, the credit is not.
    fleet.stop_payments().await;
    sqlx::query("INSERT INTO callback_claims (invoice_uuid, status, lease_until) VALUES ($1, 'paid', now() + interval '1 second')")
        .bind(invoice.uuid.to_string())
        .execute(&fleet.pool)
        .await
        .unwrap();
    fleet.start_payments().await;
    // Heleket redelivers until it gets a 2xx.
    let mut last = 0;
    for _ in 0..40 {
        last = fleet
            .heleket
            .send_callback(&order_id, "paid")
            .await
            .unwrap()
            .as_u16();
        if last == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last, 200);
    assert_eq!(fleet.balance_of(u.id).await, 500);
    // More redeliveries change nothing.
    fleet
        .heleket
        .send_callback(&order_id, "paid")
        .await
        .unwrap();
    assert_eq!(fleet.balance_of(u.id).await, 500);
    fleet.stop().await;
}

#[tokio::test]
async fn hammering_check_status_queries_heleket_at_most_once_per_cooldown() {
    let fleet = Fleet::start().await;
    let u = user(2013);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;
    let order = fleet.press(&u, &packs, "buy:100").await;
    let data = button_data(&order)
        .into_iter()
        .find(|d| d.starts_with("chk:"))
        .unwrap();
    let info_calls = || {
        fleet
            .heleket
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/payment/info")
            .count()
    };
    let before = info_calls();
    for _ in 0..5 {
        let reply = fleet.press(&u, &order, &data).await;
        assert!(
            reply.params["text"]
                .as_str()
                .unwrap()
                .contains("waiting for payment")
        );
    }
    assert_eq!(info_calls() - before, 1);
    fleet.stop().await;
}

#[tokio::test]
async fn a_user_over_the_rate_limit_is_told_once_per_window() {
    let fleet = Fleet::start_with(|env| {
        env.set("RATE_LIMIT_REQUESTS_PER_MINUTE", "2");
        env.set("RATE_LIMIT_BURST", "3");
    })
    .await;
    let u = user(2014);
    for _ in 0..8 {
        let d = fleet.tg.user_sends(&u, "/help").await.unwrap();
        assert!(d.delivered, "limited updates are still acknowledged");
    }
    let texts = fleet.texts_to(u.id);
    assert_eq!(
        texts.iter().filter(|t| t.contains("How it works")).count(),
        3,
        "{texts:#?}"
    );
    assert_eq!(
        texts.iter().filter(|t| t.contains("too fast")).count(),
        1,
        "{texts:#?}"
    );
    fleet.stop().await;
}

/// The pack menu is read from a Redis replica once payments has quoted it, so
/// /buy keeps showing the packs while payments restarts; and the activity a
/// message records (`last_seen_at`) is written once, then throttled by a
/// marker read from the replicas.
#[tokio::test]
async fn the_pack_menu_is_served_from_the_replicas_while_payments_restarts() {
    let mut fleet = Fleet::start().await;
    let u = user(2701);
    fleet.say(&u, "/start").await;
    let first = fleet.say(&u, "/buy").await;
    assert!(
        button_data(&first).contains(&"buy:100".to_string()),
        "{:?}",
        button_data(&first)
    );
    // The cached copy is on both replicas (written to the master, replicated).
    for port in fleet.redis.replica_ports() {
        let mut found = String::new();
        for _ in 0..50 {
            found = fleet
                .redis
                .command(port, &["GET", "starshop:bot:price-list"])
                .await
                .unwrap();
            if !found.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            found.contains("\"stars\":100"),
            "replica :{port}: {found:?}"
        );
    }
    let seen: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT last_seen_at FROM users WHERE id = $1")
            .bind(u.id)
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    assert!(seen.is_some(), "activity recorded");

    let hits_before = replica_hits(&fleet.redis).await;
    fleet.stop_payments().await;
    let second = fleet.say(&u, "/buy").await;
    // Both the menu and the "seen recently" marker were found on a replica…
    assert!(
        replica_hits(&fleet.redis).await >= hits_before + 2,
        "the replicas served the menu and the marker"
    );
    // …so the second message wrote no activity to Postgres.
    let seen_again: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT last_seen_at FROM users WHERE id = $1")
            .bind(u.id)
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(seen_again, seen, "last_seen_at written once per 5 minutes");
    assert_eq!(
        button_data(&second),
        button_data(&first),
        "same menu with payments down: {}",
        second.params["text"]
    );
    fleet.stop().await;
}

/// Reads answered with a value, summed over both replicas.
async fn replica_hits(redis: &testkit::redis::RedisTrio) -> u64 {
    let mut total = 0;
    for port in redis.replica_ports() {
        let info = redis.command(port, &["INFO", "stats"]).await.unwrap();
        total += info
            .lines()
            .find_map(|l| l.strip_prefix("keyspace_hits:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap();
    }
    total
}

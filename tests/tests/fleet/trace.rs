//! W3C trace context travels from the incoming webhook request, through the
//! gateway → bot gRPC hop, into the bot's outgoing call to Telegram.

use crate::harness::{Fleet, Logs, SECRET, message_id, message_update, order_id_of, user};

#[tokio::test]
async fn a_trace_started_at_the_edge_reaches_the_bots_telegram_call() {
    let fleet = Fleet::start().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let resp = fleet
        .http
        .post(fleet.url("/webhook"))
        .header(gateway::SECRET_HEADER, SECRET)
        .header("traceparent", &traceparent)
        .header("content-type", "application/json")
        .body(message_update(4242, 1201, "/start").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let replies = fleet.wait_replies(1201, 1).await;
    let seen = replies[0]
        .header("traceparent")
        .expect("the bot's sendMessage carries traceparent");
    assert!(seen.starts_with(&format!("00-{trace_id}-")), "{seen}");
    // A new span, not the caller's.
    assert!(!seen.contains("00f067aa0ba902b7"), "{seen}");
    fleet.stop().await;
}

fn traceparent_of(trace_id: &str) -> String {
    format!("00-{trace_id}-00f067aa0ba902b7-01")
}

/// The header carries `trace_id` in a span of ours (not the caller's).
fn assert_in_trace(what: &str, header: Option<&str>, trace_id: &str) {
    let seen = header.unwrap_or_else(|| panic!("{what} carries no traceparent"));
    assert!(
        seen.starts_with(&format!("00-{trace_id}-")),
        "{what} is in another trace: {seen}"
    );
    assert!(!seen.contains("00f067aa0ba902b7"), "{what}: {seen}");
}

/// Through the payments hop: the update that orders a pack keeps its trace
/// into payments' Heleket call and the bot's pay-link message; Heleket's
/// callback starts a trace of its own, which reaches payments' confirmation
/// call to Heleket and the "Payment confirmed" message. Every log line written
/// on the way carries the trace id of the request that caused it.
#[tokio::test]
async fn a_purchase_keeps_its_traces_through_payments_to_heleket_and_telegram() {
    let logs = Logs::install();
    let fleet = Fleet::start().await;
    let u = user(4301);
    let welcome = fleet.say(&u, "/start").await;
    let packs = fleet.press(&u, &welcome, "menu:buy").await;

    // The press that orders 250 stars arrives with a known trace.
    let order_trace = "5af7183fb1d4cf5f0c1b3d6e8a9f0a11";
    let press = fleet.tg.press_update(&u, message_id(&packs), "buy:250");
    let update_id = press["update_id"].as_i64().unwrap();
    let before = fleet.replies_to(u.id).len();
    let d = fleet
        .tg
        .deliver_with_headers(press, &[("traceparent", &traceparent_of(order_trace))])
        .await
        .unwrap();
    assert!(d.delivered, "{:?}", d.attempts);
    let order = fleet.wait_replies(u.id, before + 1).await[before].clone();
    let order_id = order_id_of(&order);

    let create = fleet
        .heleket
        .requests()
        .into_iter()
        .find(|r| {
            r.path == "/v1/payment" && r.json().is_some_and(|b| b["order_id"] == order_id.as_str())
        })
        .expect("payments asked Heleket for the invoice");
    assert_in_trace(
        "the create-invoice call",
        create.header("traceparent"),
        order_trace,
    );
    assert_in_trace(
        "the pay-link message",
        order.header("traceparent"),
        order_trace,
    );

    // Heleket's callback, with a trace of its own.
    let paid_trace = "0e1d2c3b4a5968778695a4b3c2d1e0f9";
    fleet.heleket.set_status(&order_id, "paid").unwrap();
    let body = fleet.heleket.callback_body(&order_id, "paid").unwrap();
    let tp = traceparent_of(paid_trace);
    let status = fleet
        .heleket
        .send_callback_to(&fleet.callback_url(), body, &[("traceparent", &tp)])
        .await
        .unwrap();
    assert_eq!(status, 200);
    let confirmed = fleet.wait_text(u.id, "Payment confirmed").await;
    assert_in_trace(
        "the \"Payment confirmed\" message",
        confirmed.header("traceparent"),
        paid_trace,
    );
    let uuid = fleet.heleket.invoice(&order_id).unwrap().uuid.to_string();
    let infos: Vec<_> = fleet
        .heleket
        .requests()
        .into_iter()
        .filter(|r| {
            r.path == "/v1/payment/info" && r.json().is_some_and(|b| b["uuid"] == uuid.as_str())
        })
        .collect();
    assert!(
        !infos.is_empty(),
        "payments confirmed the callback with Heleket"
    );
    for info in &infos {
        assert_in_trace(
            "the /v1/payment/info confirmation",
            info.header("traceparent"),
            paid_trace,
        );
    }

    // The logs: the bot's line about the press (bot hop) and payments' line
    // about the credit (payments hop, in detached work) carry their trace ids.
    for line in logs.matching("about the press", |l| l["update_id"] == update_id) {
        assert_eq!(line["trace_id"], order_trace, "{line}");
        assert!(
            line["span_id"].as_str().is_some_and(|s| s.len() == 16),
            "{line}"
        );
    }
    let credited = logs.matching("about the credit", |l| {
        l["message"] == "stars credited" && l["order_id"] == order_id.as_str()
    });
    for line in credited {
        assert_eq!(line["trace_id"], paid_trace, "{line}");
    }
    fleet.stop().await;
}

//! W3C trace context travels from the incoming webhook request, through the
//! gateway → bot gRPC hop, into the bot's outgoing call to Telegram.

use crate::harness::{Fleet, SECRET, message_update};

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

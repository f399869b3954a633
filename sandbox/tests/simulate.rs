//! The `sandbox simulate` binary against an in-process fake Telegram and a tiny echo bot.

mod common;

use axum::extract::State;
use axum::routing::post;
use sandbox::telegram::{FakeTelegram, TelegramOptions};
use serde_json::{Value, json};

const TOKEN: &str = "42:sandbox";

/// Answers every update with a menu, sent through the Bot API like the real bot does.
async fn start_bot(tg: &FakeTelegram) {
    let api = format!("{}/bot{TOKEN}", tg.base_url());
    let app = axum::Router::new()
        .route(
            "/hook",
            post(|State(api): State<String>, axum::Json(update): axum::Json<Value>| async move {
                let client = common::client();
                if let Some(query) = update.get("callback_query") {
                    let body = json!({"callback_query_id": query["id"], "text": "Creating invoice…"});
                    client.post(format!("{api}/answerCallbackQuery")).json(&body).send().await.unwrap();
                    return;
                }
                let chat = update["message"]["chat"]["id"].clone();
                let body = json!({
                    "chat_id": chat,
                    "text": "<b>Welcome!</b>\nPick a pack:",
                    "parse_mode": "HTML",
                    "reply_markup": {"inline_keyboard": [
                        [{"text": "Buy 100", "callback_data": "buy:100"}, {"text": "Buy 250", "callback_data": "buy:250"}],
                        [{"text": "Help", "url": "https://example.com/help"}]
                    ]}
                });
                client.post(format!("{api}/sendMessage")).json(&body).send().await.unwrap();
            }),
        )
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let resp = common::client()
        .post(format!("{api}/setWebhook"))
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}

async fn simulate(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sandbox"))
        .arg("simulate")
        .args(args)
        .env_remove("SANDBOX_TELEGRAM_URL")
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn simulate_prints_the_reply_and_its_buttons() {
    let tg = FakeTelegram::start(TelegramOptions::default())
        .await
        .unwrap();
    start_bot(&tg).await;
    let base = tg.base_url();
    let out = simulate(&["--telegram", &base, "--user-id", "1001", "--timeout", "10"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("bot › Welcome!"), "{stdout}");
    assert!(stdout.contains("[ Buy 100 ] [ Buy 250 ]"), "{stdout}");
    assert!(stdout.contains("--press buy:100"), "{stdout}");

    let message_id = tg.messages_to(1001)[0].response["result"]["message_id"].to_string();
    let out = simulate(&[
        "--telegram",
        &base,
        "--press",
        "buy:100",
        "--message-id",
        &message_id,
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("bot (toast) › Creating invoice…"),
        "{stdout}"
    );
}

#[tokio::test]
async fn simulate_fails_clearly_without_a_webhook() {
    let tg = FakeTelegram::start(TelegramOptions::default())
        .await
        .unwrap();
    let out = simulate(&["--telegram", &tg.base_url(), "--timeout", "2"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has not set a webhook"), "{stderr}");
}

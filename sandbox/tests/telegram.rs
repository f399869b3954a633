//! The fake Telegram Bot API over real HTTP: replies, validation, limits, webhooks.

mod common;

use std::time::Duration;

use sandbox::telegram::{FakeTelegram, FaultSpec, FileKind, TelegramOptions, TgUser, UserMessage};
use serde_json::{Value, json};

const TOKEN: &str = "123456:ABC-def_ghi";

async fn fake() -> FakeTelegram {
    FakeTelegram::start(TelegramOptions::default())
        .await
        .unwrap()
}

async fn api(tg: &FakeTelegram, method: &str, params: Value) -> (u16, Value) {
    api_as(tg, TOKEN, method, params).await
}

async fn api_as(tg: &FakeTelegram, token: &str, method: &str, params: Value) -> (u16, Value) {
    let resp = common::client()
        .post(format!("{}/bot{token}/{method}", tg.base_url()))
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .json(&params)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn bad_request(description: &str) -> Value {
    json!({"ok": false, "error_code": 400, "description": description})
}

#[tokio::test]
async fn send_message_replies_like_telegram_and_is_recorded_with_headers() {
    let tg = fake().await;
    let markup = json!({"inline_keyboard": [[{"text": "Buy 100", "callback_data": "buy:100"}]]});
    let (status, body) = api(
        &tg,
        "sendMessage",
        json!({"chat_id": 42, "text": "hi", "reply_markup": markup}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    let msg = &body["result"];
    assert_eq!(msg["message_id"], 1);
    assert_eq!(msg["chat"], json!({"id": 42, "type": "private"}));
    assert_eq!(msg["from"]["is_bot"], true);
    assert_eq!(msg["from"]["id"], 123456);
    assert_eq!(msg["text"], "hi");
    assert_eq!(msg["reply_markup"], markup);
    assert!(msg["date"].as_i64().unwrap() > 1_700_000_000);

    let (_, second) = api(&tg, "sendMessage", json!({"chat_id": 42, "text": "again"})).await;
    assert_eq!(second["result"]["message_id"], 2);
    let (_, other_chat) = api(
        &tg,
        "sendMessage",
        json!({"chat_id": -100, "text": "group"}),
    )
    .await;
    assert_eq!(other_chat["result"]["message_id"], 1);
    assert_eq!(other_chat["result"]["chat"]["type"], "supergroup");

    let calls = tg.calls_to("sendMessage");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].token, TOKEN);
    assert_eq!(calls[0].params["text"], "hi");
    assert_eq!(calls[0].status, 200);
    assert_eq!(
        calls[0].header("traceparent"),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    assert_eq!(tg.messages_to(42).len(), 2);
    tg.clear_calls();
    assert!(tg.calls().is_empty());
}

#[tokio::test]
async fn form_and_query_parameters_and_case_insensitive_methods() {
    let tg = fake().await;
    let client = common::client();
    let markup = r#"{"inline_keyboard":[[{"text":"a","callback_data":"b"}]]}"#;
    let resp = client
        .post(format!("{}/bot{TOKEN}/SENDMESSAGE", tg.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "chat_id=7&text=hello+world&reply_markup={}",
            urlencode(markup)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["result"]["text"], "hello world");
    assert_eq!(
        body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        "b"
    );
    let call = &tg.calls()[0];
    assert_eq!(call.method, "sendMessage");
    assert_eq!(
        call.params["reply_markup"]["inline_keyboard"][0][0]["text"],
        "a"
    );

    let resp = client
        .get(format!("{}/bot{TOKEN}/getme", tg.base_url()))
        .send()
        .await
        .unwrap();
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["result"]["username"], "sandbox_bot");
    assert_eq!(me["result"]["is_bot"], true);

    let resp = client
        .get(format!(
            "{}/bot{TOKEN}/sendMessage?chat_id=8&text=q",
            tg.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bad_tokens_and_unknown_methods() {
    let tg = FakeTelegram::start(TelegramOptions {
        expected_token: Some(TOKEN.into()),
        ..TelegramOptions::default()
    })
    .await
    .unwrap();
    let unauthorized = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
    assert_eq!(
        api_as(&tg, "nonsense", "getMe", json!({})).await,
        (401, unauthorized.clone())
    );
    assert_eq!(
        api_as(&tg, "999:other", "getMe", json!({})).await,
        (401, unauthorized)
    );
    let not_found = json!({"ok": false, "error_code": 404, "description": "Not Found"});
    assert_eq!(api(&tg, "sendDice", json!({})).await, (404, not_found));
    assert_eq!(tg.calls().len(), 3, "rejected calls are recorded too");
    assert_eq!(tg.calls()[0].status, 401);
}

#[tokio::test]
async fn text_length_and_chat_id_validation() {
    let tg = fake().await;
    let long = "x".repeat(4097);
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 1, "text": long})).await,
        (400, bad_request("Bad Request: message is too long"))
    );
    assert_eq!(
        api(
            &tg,
            "sendMessage",
            json!({"chat_id": 1, "text": "x".repeat(4096)})
        )
        .await
        .0,
        200
    );
    // HTML: tags do not count and &amp; is one character.
    let html = format!("<b>{}</b>", "&amp;".repeat(4096));
    assert_eq!(
        api(
            &tg,
            "sendMessage",
            json!({"chat_id": 2, "text": html, "parse_mode": "HTML"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 1, "text": ""})).await,
        (400, bad_request("Bad Request: message text is empty"))
    );
    assert_eq!(
        api(&tg, "sendMessage", json!({"text": "hi"})).await,
        (400, bad_request("Bad Request: chat not found"))
    );
    assert_eq!(
        api(
            &tg,
            "sendPhoto",
            json!({"chat_id": 3, "photo": "AgACfile", "caption": "c".repeat(1025)})
        )
        .await,
        (400, bad_request("Bad Request: message caption is too long"))
    );
    let (status, photo) = api(
        &tg,
        "sendPhoto",
        json!({"chat_id": 3, "photo": "AgACfile", "caption": "c"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(photo["result"]["photo"][0]["file_id"], "AgACfile");
}

#[tokio::test]
async fn broken_html_is_refused_like_telegram_and_nothing_is_delivered() {
    let tg = fake().await;
    let html = |text: &str| json!({"chat_id": 1, "text": text, "parse_mode": "HTML"});
    let cases = [
        (
            "Line one<br>line two",
            "Unsupported start tag \"br\" at byte offset 8",
        ),
        (
            "<b>Sale",
            "Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            "<b>Sale</i>",
            "Unmatched end tag at byte offset 7, expected \"</b>\", found \"</i>\"",
        ),
        ("Price < 5", "Unsupported start tag \"\" at byte offset 6"),
    ];
    for (text, reason) in cases {
        assert_eq!(
            api(&tg, "sendMessage", html(text)).await,
            (
                400,
                bad_request(&format!("Bad Request: can't parse entities: {reason}"))
            ),
            "{text}"
        );
    }
    let (status, body) = api(&tg, "sendMessage", html("<b>Sale</b> &lt;5 &amp; more")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        api(&tg, "sendMessage", html("<b> </b>")).await,
        (400, bad_request("Bad Request: message text is empty"))
    );
    assert_eq!(tg.messages_to(1).len(), 1);
}

#[tokio::test]
async fn callback_data_over_64_bytes_is_rejected() {
    let tg = fake().await;
    let markup = json!({"inline_keyboard": [[{"text": "x", "callback_data": "d".repeat(65)}]]});
    assert_eq!(
        api(
            &tg,
            "sendMessage",
            json!({"chat_id": 1, "text": "t", "reply_markup": markup})
        )
        .await,
        (400, bad_request("Bad Request: BUTTON_DATA_INVALID"))
    );
    assert!(tg.messages_to(1).is_empty());
}

async fn burst(tg: &FakeTelegram, n: i64, paid: bool) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let tg = tg.clone();
            tokio::spawn(async move {
                let params =
                    json!({"chat_id": 1000 + i, "text": "news", "allow_paid_broadcast": paid});
                api(&tg, "sendMessage", params).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// The limits are about wall-clock seconds; on a loaded 2-core machine a burst can take longer
/// than the window, which would make the check meaningless rather than wrong. Such runs are
/// retried with a fresh fake instead of failing.
async fn within_one_second<F, Fut>(attempt: F)
where
    F: Fn(FakeTelegram) -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    // The limiter itself is tested with an explicit clock in limits.rs; this
    // is the HTTP path, so a busy box only costs more tries.
    for _ in 0..10 {
        let tg = fake().await;
        let started = std::time::Instant::now();
        let outcome = attempt(tg).await;
        if started.elapsed() < Duration::from_millis(900) {
            assert!(outcome.is_some(), "limit not enforced");
            return;
        }
    }
    panic!("could not send a burst within one second in ten tries");
}

#[tokio::test]
async fn the_31st_send_within_a_second_gets_429() {
    within_one_second(|tg| async move {
        let results = burst(&tg, 30, false).await;
        assert!(results.iter().all(|(s, _)| *s == 200));
        let (status, body) = api(
            &tg,
            "sendMessage",
            json!({"chat_id": 5000, "text": "one more"}),
        )
        .await;
        if status != 429 {
            return None;
        }
        let retry = body["parameters"]["retry_after"].as_u64().unwrap();
        assert!(retry >= 1);
        assert_eq!(
            body["description"],
            format!("Too Many Requests: retry after {retry}")
        );
        assert_eq!(body["error_code"], 429);
        Some(())
    })
    .await;
}

#[tokio::test]
async fn paid_broadcasts_pass_the_30_per_second_limit() {
    let tg = fake().await;
    let results = burst(&tg, 31, true).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
}

#[tokio::test]
async fn ordinary_replies_are_not_starved_by_a_paid_campaign() {
    let tg = fake().await;
    let results = burst(&tg, 60, true).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    // However fast the burst ran, the paid sends took nothing from the ordinary 30/s budget.
    for chat in 0..30 {
        let params = json!({"chat_id": 9000 + chat, "text": "your balance"});
        let (status, body) = api(&tg, "sendMessage", params).await;
        assert_eq!(status, 200, "reply {chat}: {body}");
    }
}

#[tokio::test]
async fn a_fourth_quick_send_to_one_chat_gets_429() {
    within_one_second(|tg| async move {
        for _ in 0..3 {
            assert_eq!(
                api(&tg, "sendMessage", json!({"chat_id": 9, "text": "t"}))
                    .await
                    .0,
                200
            );
        }
        let (status, body) = api(&tg, "sendMessage", json!({"chat_id": 9, "text": "t"})).await;
        if status != 429 {
            return None;
        }
        assert!(body["parameters"]["retry_after"].as_u64().unwrap() >= 1);
        // Other chats are unaffected.
        assert_eq!(
            api(&tg, "sendMessage", json!({"chat_id": 10, "text": "t"}))
                .await
                .0,
            200
        );
        Some(())
    })
    .await;
}

#[tokio::test]
async fn a_chat_recovers_after_the_refill() {
    let tg = fake().await;
    for _ in 0..4 {
        api(&tg, "sendMessage", json!({"chat_id": 9, "text": "t"})).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 9, "text": "t"}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn blocked_and_deactivated_chats_get_403() {
    let tg = fake().await;
    tg.block_chat(77);
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 77, "text": "t"})).await,
        (
            403,
            json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
        )
    );
    tg.deactivate_chat(78);
    // The post to copy: the bot's own message in a group.
    let (_, post) = api(
        &tg,
        "sendMessage",
        json!({"chat_id": -1001, "text": "post"}),
    )
    .await;
    let (status, body) = api(
        &tg,
        "copyMessage",
        json!({"chat_id": 78, "from_chat_id": -1001, "message_id": post["result"]["message_id"]}),
    )
    .await;
    assert_eq!(
        (status, body["description"].clone()),
        (403, json!("Forbidden: user is deactivated"))
    );
    tg.unblock_chat(77);
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 77, "text": "t"}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_vanished_chat_is_not_found() {
    let tg = fake().await;
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 80, "text": "t"}))
            .await
            .0,
        200
    );
    tg.vanish_chat(80);
    let not_found = (400, bad_request("Bad Request: chat not found"));
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 80, "text": "t"})).await,
        not_found
    );
    assert_eq!(
        api(
            &tg,
            "editMessageText",
            json!({"chat_id": 80, "message_id": 1, "text": "edited"})
        )
        .await,
        not_found,
        "edits in a vanished chat fail the same way"
    );
    let (status, _) = control(&tg, "/chats/81/vanish", json!({})).await;
    assert_eq!(status, 204);
    assert_eq!(
        api(
            &tg,
            "sendPhoto",
            json!({"chat_id": 81, "photo": "AgACphoto"})
        )
        .await,
        not_found
    );
    tg.unblock_chat(80);
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 80, "text": "t"}))
            .await
            .0,
        200
    );
    assert_eq!(tg.messages_to(81).len(), 0);
}

#[tokio::test]
async fn edit_message_text_not_modified_and_not_found() {
    let tg = fake().await;
    let markup = json!({"inline_keyboard": [[{"text": "Check", "callback_data": "check:1"}]]});
    let (_, sent) = api(
        &tg,
        "sendMessage",
        json!({"chat_id": 5, "text": "Progress 10%", "reply_markup": markup}),
    )
    .await;
    let id = sent["result"]["message_id"].clone();
    let same =
        json!({"chat_id": 5, "message_id": id, "text": "Progress 10%", "reply_markup": markup});
    assert_eq!(
        api(&tg, "editMessageText", same).await,
        (
            400,
            bad_request(
                "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
            )
        )
    );
    let (status, edited) = api(
        &tg,
        "editMessageText",
        json!({"chat_id": 5, "message_id": id, "text": "Progress 20%", "reply_markup": markup}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(edited["result"]["text"], "Progress 20%");
    assert!(edited["result"]["edit_date"].is_i64());
    assert_eq!(
        api(
            &tg,
            "editMessageText",
            json!({"chat_id": 5, "message_id": 999, "text": "x"})
        )
        .await,
        (400, bad_request("Bad Request: message to edit not found"))
    );
    assert_eq!(
        tg.messages_to(5).len(),
        2,
        "the send and the successful edit"
    );
}

#[tokio::test]
async fn webhook_delivery_with_secret_and_retries() {
    let tg = FakeTelegram::start(TelegramOptions {
        delivery_first_delay: Duration::from_millis(20),
        ..TelegramOptions::default()
    })
    .await
    .unwrap();
    let user = TgUser::new(1001, "Ann");
    assert!(
        tg.user_sends(&user, "/start").await.is_err(),
        "no webhook yet"
    );

    let receiver = common::Receiver::start(&[500]).await;
    let (status, body) = api(
        &tg,
        "setWebhook",
        json!({"url": receiver.url, "secret_token": "s3cr3t_-X"}),
    )
    .await;
    assert_eq!((status, body["result"].clone()), (200, json!(true)));

    let delivery = tg.user_sends(&user, "/start ref42").await.unwrap();
    assert_eq!(delivery.attempts, vec![500, 200]);
    assert!(delivery.delivered);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].headers["x-telegram-bot-api-secret-token"],
        "s3cr3t_-X"
    );
    let update: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(got[0].body, got[1].body, "a retry resends the same update");
    let message = &update["message"];
    assert_eq!(message["text"], "/start ref42");
    assert_eq!(message["from"]["id"], 1001);
    assert_eq!(message["chat"]["type"], "private");
    assert_eq!(
        message["entities"],
        json!([{"offset": 0, "length": 6, "type": "bot_command"}])
    );

    let (_, info) = api(&tg, "getWebhookInfo", json!({})).await;
    assert_eq!(info["result"]["url"], receiver.url);
    assert_eq!(
        info["result"]["last_error_message"],
        "Wrong response from the webhook: 500 Internal Server Error"
    );
    assert_eq!(info["result"]["pending_update_count"], 0);

    let next = tg.user_presses(&user, 1, "buy:100").await.unwrap();
    assert!(next.delivered);
    let pressed: Value = serde_json::from_slice(&receiver.received()[2].body).unwrap();
    assert_eq!(pressed["callback_query"]["data"], "buy:100");
    assert_eq!(
        pressed["update_id"].as_i64().unwrap(),
        update["update_id"].as_i64().unwrap() + 1
    );
    let query_id = pressed["callback_query"]["id"].clone();
    assert_eq!(
        api(
            &tg,
            "answerCallbackQuery",
            json!({"callback_query_id": query_id})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api(
            &tg,
            "answerCallbackQuery",
            json!({"callback_query_id": "made-up"})
        )
        .await
        .0,
        400
    );

    assert!(tg.user_blocks_bot(&user).await.unwrap().delivered);
    let blocked: Value = serde_json::from_slice(&receiver.received()[3].body).unwrap();
    assert_eq!(
        blocked["my_chat_member"]["new_chat_member"]["status"],
        "kicked"
    );
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 1001, "text": "t"}))
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn delivery_gives_up_after_the_configured_attempts() {
    let tg = FakeTelegram::start(TelegramOptions {
        delivery_attempts: 3,
        delivery_first_delay: Duration::from_millis(10),
        ..TelegramOptions::default()
    })
    .await
    .unwrap();
    // A port nothing listens on: every attempt is a transport error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    api(&tg, "setWebhook", json!({"url": dead})).await;
    let delivery = tg
        .deliver(json!({"update_id": 1, "message": {}}))
        .await
        .unwrap();
    assert_eq!(delivery.attempts, vec![0, 0, 0]);
    assert!(!delivery.delivered);
    assert!(tg.webhook_info()["last_error_date"].is_i64());
}

#[tokio::test]
async fn set_webhook_validates_the_secret_and_delete_clears_it() {
    let tg = fake().await;
    assert_eq!(
        api(
            &tg,
            "setWebhook",
            json!({"url": "https://bot.example/webhook", "secret_token": "bad secret!"})
        )
        .await,
        (
            400,
            bad_request("Bad Request: secret token contains unallowed characters")
        )
    );
    assert_eq!(tg.webhook_url(), None);
    api(
        &tg,
        "setWebhook",
        json!({"url": "https://bot.example/webhook", "max_connections": 10}),
    )
    .await;
    assert_eq!(tg.webhook_info()["max_connections"], 10);
    assert_eq!(api(&tg, "deleteWebhook", json!({})).await.0, 200);
    assert_eq!(tg.webhook_info()["url"], "");
}

#[tokio::test]
async fn wait_for_call_sees_calls_made_later() {
    let tg = fake().await;
    for chat in [1, 2] {
        api(
            &tg,
            "sendMessage",
            json!({"chat_id": chat, "text": "early"}),
        )
        .await;
    }
    let waiter = {
        let tg = tg.clone();
        tokio::spawn(async move {
            tg.wait_for_call(
                |c| c.method == "sendMessage" && c.chat_id() == Some(3),
                Duration::from_secs(5),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A clear while waiting must not make the waiter skip what is recorded next.
    tg.clear_calls();
    api(&tg, "sendMessage", json!({"chat_id": 3, "text": "late"})).await;
    let call = waiter.await.unwrap().expect("call seen");
    assert_eq!(call.params["text"], "late");
    assert!(
        tg.wait_for_call(|c| c.method == "sendVideo", Duration::from_millis(50))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn control_api_sends_as_a_user_and_lists_calls() {
    let tg = fake().await;
    let receiver = common::Receiver::start(&[]).await;
    let client = common::client();
    let base = tg.base_url();
    let resp = client
        .post(format!("{base}/_sandbox/users/5/send"))
        .json(&json!({"text": "/start"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409, "no webhook set yet");

    api(&tg, "setWebhook", json!({"url": receiver.url})).await;
    let resp = client
        .post(format!("{base}/_sandbox/users/5/send"))
        .json(&json!({"text": "/start", "first_name": "Bo", "language_code": "ru"}))
        .send()
        .await
        .unwrap();
    let delivery: Value = resp.json().await.unwrap();
    assert_eq!(delivery["delivered"], true);
    let update: Value = serde_json::from_slice(&receiver.received()[0].body).unwrap();
    assert_eq!(update["message"]["from"]["language_code"], "ru");

    api(&tg, "sendMessage", json!({"chat_id": 5, "text": "Привет"})).await;
    api(&tg, "sendMessage", json!({"chat_id": 6, "text": "other"})).await;
    let calls: Value = client
        .get(format!("{base}/_sandbox/calls?chat_id=5"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls.as_array().unwrap().len(), 1);
    assert_eq!(calls[0]["params"]["text"], "Привет");

    let resp = client
        .post(format!("{base}/_sandbox/chats/6/block"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 6, "text": "t"}))
            .await
            .0,
        403
    );
    client
        .delete(format!("{base}/_sandbox/calls"))
        .send()
        .await
        .unwrap();
    assert!(tg.calls().is_empty());
}

#[tokio::test]
async fn a_method_in_the_webhook_response_is_executed() {
    use axum::routing::post;
    let tg = fake().await;
    let app = axum::Router::new().route(
        "/hook",
        post(|axum::Json(update): axum::Json<Value>| async move {
            axum::Json(json!({"method": "sendMessage", "chat_id": update["message"]["chat"]["id"], "text": "pong"}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    api(&tg, "setWebhook", json!({"url": url})).await;
    tg.user_sends(&TgUser::new(31, "Cy"), "ping").await.unwrap();
    let replies = tg.messages_to(31);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].params["text"], "pong");
}

fn count_429(tg: &FakeTelegram) -> usize {
    tg.calls().iter().filter(|c| c.status == 429).count()
}

async fn control(tg: &FakeTelegram, path: &str, body: Value) -> (u16, Value) {
    let resp = common::client()
        .post(format!("{}/_sandbox{path}", tg.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn an_injected_429_pauses_every_send_of_the_token() {
    let tg = fake().await;
    let (status, body) = control(
        &tg,
        "/faults",
        json!({"count": 1, "error": "flood_wait", "retry_after": 30}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 1, "text": "news"})).await,
        (
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 30", "parameters": {"retry_after": 30}})
        )
    );
    // Every later send of the token, to any chat and by any send method, waits out the rest.
    for (method, params) in [
        ("sendMessage", json!({"chat_id": 2, "text": "news"})),
        ("sendPhoto", json!({"chat_id": 3, "photo": "AgACphoto"})),
        (
            "copyMessage",
            json!({"chat_id": 4, "from_chat_id": 4, "message_id": 1}),
        ),
    ] {
        let (status, body) = api(&tg, method, params).await;
        assert_eq!(status, 429, "{method}: {body}");
        let retry = body["parameters"]["retry_after"].as_u64().unwrap();
        assert!((1..=30).contains(&retry), "{retry}");
        assert_eq!(
            body["description"],
            format!("Too Many Requests: retry after {retry}")
        );
    }
    assert_eq!(api(&tg, "getMe", json!({})).await.0, 200, "not a send");
    let other = api_as(
        &tg,
        "777:other",
        "sendMessage",
        json!({"chat_id": 100, "text": "x"}),
    );
    assert_eq!(other.await.0, 200, "another token has its own flood state");
    assert_eq!(count_429(&tg), 4, "refused calls are recorded");
    assert!((1..=4).all(|chat| tg.messages_to(chat).is_empty()));
    assert!(tg.pending_faults().is_empty(), "the one fault fired");

    tg.clear_faults();
    assert_eq!(
        api(&tg, "sendMessage", json!({"chat_id": 1, "text": "news"}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_flood_wait_ends_by_itself() {
    let tg = fake().await;
    tg.inject_errors(FaultSpec::flood_wait(1, 1));
    let send = || api(&tg, "sendMessage", json!({"chat_id": 1, "text": "news"}));
    assert_eq!(send().await.0, 429);
    // Waiting at least retry_after is always enough, however slow the machine.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(send().await.0, 200);
}

#[tokio::test]
async fn injected_5xx_hit_only_the_matching_calls_and_run_out() {
    let tg = fake().await;
    tg.inject_errors(
        FaultSpec::server_error(2, 502)
            .only_method("sendMessage")
            .only_chat(7),
    );
    let to_seven = json!({"chat_id": 7, "text": "news"});
    let to_eight = json!({"chat_id": 8, "text": "news"});
    assert_eq!(api(&tg, "sendMessage", to_eight).await.0, 200);
    assert_eq!(
        api(
            &tg,
            "sendPhoto",
            json!({"chat_id": 7, "photo": "AgACphoto"})
        )
        .await
        .0,
        200
    );
    for _ in 0..2 {
        assert_eq!(
            api(&tg, "sendMessage", to_seven.clone()).await,
            (
                502,
                json!({"ok": false, "error_code": 502, "description": "Bad Gateway"})
            )
        );
    }
    assert_eq!(api(&tg, "sendMessage", to_seven).await.0, 200);
    let texts: Vec<_> = tg.messages_to(7).iter().map(|c| c.method.clone()).collect();
    assert_eq!(
        texts,
        ["sendPhoto", "sendMessage"],
        "failed sends were not delivered"
    );

    let (status, _) = control(
        &tg,
        "/faults",
        json!({"count": 1, "error": "server", "code": 500, "description": "Internal Server Error: restart"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = api(
        &tg,
        "copyMessage",
        json!({"chat_id": 9, "from_chat_id": 7, "message_id": 1}),
    )
    .await;
    assert_eq!(
        (status, body["description"].as_str()),
        (500, Some("Internal Server Error: restart"))
    );
    let (status, _) = control(
        &tg,
        "/faults",
        json!({"count": 1, "error": "server", "code": 404}),
    )
    .await;
    assert_eq!(status, 400, "only 5xx can be injected as server errors");
}

#[tokio::test]
async fn media_sends_check_files_captions_and_buttons() {
    let tg = fake().await;
    let (status, doc) = api(
        &tg,
        "sendDocument",
        json!({"chat_id": 5, "document": "BQACprepared", "caption": "<b>Price list</b>", "parse_mode": "HTML"}),
    )
    .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["result"]["document"]["file_id"], "BQACprepared");
    assert_eq!(doc["result"]["caption"], "<b>Price list</b>");
    let (status, gif) = api(
        &tg,
        "sendAnimation",
        json!({"chat_id": 5, "animation": "https://cdn.example/sale.gif"}),
    )
    .await;
    assert_eq!(status, 200, "{gif}");
    let animation = &gif["result"]["animation"];
    assert!(animation["file_id"].as_str().unwrap().starts_with("CgAC"));
    assert_eq!(gif["result"]["document"], *animation, "Telegram fills both");
    let (status, video) = api(
        &tg,
        "sendVideo",
        json!({"chat_id": 5, "video": "https://cdn.example/a.mp4", "supports_streaming": true}),
    )
    .await;
    assert_eq!(status, 200, "{video}");

    let refusals = [
        (
            json!({"chat_id": 6, "video": "ftp://cdn.example/a.mp4"}),
            "sendVideo",
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            json!({"chat_id": 6, "photo": "not a file id"}),
            "sendPhoto",
            "Bad Request: wrong remote file identifier specified: Wrong character in the string",
        ),
        (
            json!({"chat_id": 6, "caption": "x"}),
            "sendPhoto",
            "Bad Request: there is no photo in the request",
        ),
        (
            json!({"chat_id": 6, "photo": "AgACx", "caption": "<b>Sale", "parse_mode": "HTML"}),
            "sendPhoto",
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            json!({"chat_id": 6, "video": "BAACx", "caption": "c".repeat(1025)}),
            "sendVideo",
            "Bad Request: message caption is too long",
        ),
        (
            json!({"chat_id": 6, "document": "BQACx", "reply_markup": {"inline_keyboard": [[{"text": "Go", "url": "javascript:alert(1)"}]]}}),
            "sendDocument",
            "Bad Request: inline keyboard button URL 'javascript:alert(1)' is invalid: Unsupported URL protocol",
        ),
        (
            json!({"chat_id": 6, "animation": "CgACx", "reply_markup": {"inline_keyboard": [[{"text": "Go", "callback_data": ""}]]}}),
            "sendAnimation",
            "Bad Request: BUTTON_DATA_INVALID",
        ),
    ];
    for (params, method, description) in refusals {
        assert_eq!(
            api(&tg, method, params.clone()).await,
            (400, bad_request(description)),
            "{method} {params}"
        );
    }
    // 1024 visible characters: the tags and references don't count.
    let caption = format!("<b>{}</b>", "&amp;".repeat(1024));
    let markup = json!({"inline_keyboard": [[{"text": "Shop", "url": "https://shop.example"}, {"text": "Open", "url": "tg://resolve?domain=shop"}], [{"text": "Stop", "callback_data": "unsub"}]]});
    let (status, body) = api(
        &tg,
        "sendPhoto",
        json!({"chat_id": 6, "photo": "AgACx", "caption": caption, "parse_mode": "HTML", "reply_markup": markup}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let methods: Vec<String> = tg.messages_to(5).into_iter().map(|c| c.method).collect();
    assert_eq!(methods, ["sendDocument", "sendAnimation", "sendVideo"]);
    assert_eq!(
        tg.messages_to(6).len(),
        1,
        "refused sends are not delivered"
    );
}

async fn fake_with_webhook() -> (FakeTelegram, common::Receiver) {
    let tg = fake().await;
    let receiver = common::Receiver::start(&[]).await;
    api(&tg, "setWebhook", json!({"url": receiver.url})).await;
    (tg, receiver)
}

fn delivered_update(receiver: &common::Receiver, index: usize) -> Value {
    serde_json::from_slice(&receiver.received()[index].body).unwrap()
}

#[tokio::test]
async fn an_admin_composes_with_a_photo_and_the_bot_copies_it_to_subscribers() {
    let (tg, receiver) = fake_with_webhook().await;
    let admin = TgUser::new(1, "Admin");
    let post = UserMessage::photo()
        .caption("Big sale today in our shop")
        .bold("Big sale")
        .link("our shop", "https://shop.example");
    let sent = tg.user_sends_message(&admin, post).await.unwrap();
    assert!(sent.delivery.delivered);
    let message = &delivered_update(&receiver, 0)["message"];
    assert_eq!(*message, sent.message);
    assert_eq!(message["caption"], "Big sale today in our shop");
    assert_eq!(
        message["caption_entities"],
        json!([
            {"type": "bold", "offset": 0, "length": 8},
            {"type": "text_link", "offset": 18, "length": 8, "url": "https://shop.example"},
        ])
    );
    let sizes = message["photo"].as_array().unwrap();
    assert!(sizes.len() > 1, "Telegram sends several sizes");
    for size in sizes {
        for field in ["file_id", "file_unique_id", "width", "height"] {
            assert!(!size[field].is_null(), "{field} in {size}");
        }
    }
    let source = sent.message_id();
    for chat in [100, 101] {
        let (status, body) = api(
            &tg,
            "copyMessage",
            json!({"chat_id": chat, "from_chat_id": admin.id, "message_id": source}),
        )
        .await;
        assert_eq!(
            (status, body),
            (200, json!({"ok": true, "result": {"message_id": 1}}))
        );
    }
    let got = tg.sent_to(100);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "copyMessage");
    assert_eq!(got[0].copied_from, Some((admin.id, source)));
    assert_eq!(got[0].media_kind, Some(FileKind::Photo));
    assert_eq!(got[0].file_id, sent.file_id());
    assert_eq!(
        got[0].caption.as_deref(),
        Some("Big sale today in our shop")
    );
    assert_eq!(got[0].entities, Some(message["caption_entities"].clone()));
    assert_eq!(tg.messages_to(101)[0].method, "copyMessage");

    // A new caption is checked like any caption.
    let (status, body) = api(
        &tg,
        "copyMessage",
        json!({"chat_id": 102, "from_chat_id": admin.id, "message_id": source, "caption": "<i>Hi", "parse_mode": "HTML"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // The bot's own messages can be copied too.
    let (_, own) = api(
        &tg,
        "sendMessage",
        json!({"chat_id": admin.id, "text": "Preview"}),
    )
    .await;
    let own_id = own["result"]["message_id"].clone();
    let (status, _) = api(
        &tg,
        "copyMessage",
        json!({"chat_id": 102, "from_chat_id": admin.id, "message_id": own_id}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(tg.sent_to(102)[0].text.as_deref(), Some("Preview"));
}

#[tokio::test]
async fn copying_a_message_that_does_not_exist_fails_like_telegram() {
    let (tg, _receiver) = fake_with_webhook().await;
    let admin = TgUser::new(1, "Admin");
    let sent = tg
        .user_sends_message(&admin, UserMessage::text("post"))
        .await
        .unwrap();
    let not_found = (400, bad_request("Bad Request: message to copy not found"));
    let copy = |from: i64, id: i64| json!({"chat_id": 100, "from_chat_id": from, "message_id": id});
    assert_eq!(
        api(&tg, "copyMessage", copy(admin.id, 999)).await,
        not_found
    );
    assert_eq!(
        api(&tg, "copyMessage", copy(-100777, 1)).await,
        not_found,
        "a chat the fake never saw holds no messages"
    );
    tg.vanish_chat(admin.id);
    assert_eq!(
        api(&tg, "copyMessage", copy(admin.id, sent.message_id())).await,
        (400, bad_request("Bad Request: chat not found"))
    );
    assert!(tg.sent_to(100).is_empty());
}

#[tokio::test]
async fn an_uploaded_id_list_can_be_fetched_with_get_file() {
    let (tg, _receiver) = fake_with_webhook().await;
    let admin = TgUser::new(1, "Admin");
    let sent = tg
        .user_sends_message(
            &admin,
            UserMessage::document("segment.csv", "user_id\n1001\n1002\n").caption("my list"),
        )
        .await
        .unwrap();
    let doc = &sent.message["document"];
    assert_eq!(doc["file_name"], "segment.csv");
    assert_eq!(doc["mime_type"], "text/csv");
    assert_eq!(sent.message["caption"], "my list");
    let file_id = sent.file_id().unwrap();
    let (status, file) = api(&tg, "getFile", json!({"file_id": file_id})).await;
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["result"]["file_id"], file_id.as_str());
    assert_eq!(file["result"]["file_size"], 18);
    let path = file["result"]["file_path"].as_str().unwrap().to_owned();

    let client = common::client();
    let download = |token: &str, path: &str| {
        client
            .get(format!("{}/file/bot{token}/{path}", tg.base_url()))
            .send()
    };
    let resp = download(TOKEN, &path).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), "user_id\n1001\n1002\n");
    assert_eq!(
        download(TOKEN, "documents/other.csv")
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        download("999:another", &path).await.unwrap().status(),
        404,
        "another bot's path"
    );
    let resp = download("nonsense", &path).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );
    assert_eq!(
        api(&tg, "getFile", json!({"file_id": "BQACunknown"})).await,
        (400, bad_request("Bad Request: invalid file_id"))
    );
    // A document's file id cannot be sent as a photo.
    assert_eq!(
        api(&tg, "sendPhoto", json!({"chat_id": 5, "photo": file_id})).await,
        (
            400,
            bad_request("Bad Request: can't use file of type Document as Photo")
        )
    );
}

#[tokio::test]
async fn videos_forwards_and_formatted_text_arrive_as_telegram_sends_them() {
    let (tg, receiver) = fake_with_webhook().await;
    let admin = TgUser::new(1, "Admin");
    let video = tg
        .user_sends_message(&admin, UserMessage::video().caption("clip"))
        .await
        .unwrap();
    let v = &video.message["video"];
    assert!(v["file_id"].as_str().unwrap().starts_with("BAAC"));
    assert!(v["duration"].is_i64() && v["width"].is_i64());

    let forward = UserMessage::text("Channel news").forwarded_from_channel(-1001234, "News", 42);
    let fwd = tg.user_sends_message(&admin, forward).await.unwrap();
    let origin = &delivered_update(&receiver, 1)["message"]["forward_origin"];
    assert_eq!(origin["type"], "channel");
    assert_eq!(
        origin["chat"],
        json!({"id": -1001234, "type": "channel", "title": "News"})
    );
    assert_eq!(origin["message_id"], 42);
    assert!(origin["date"].is_i64());
    assert_eq!(fwd.message["text"], "Channel news");
    // Both the forward in the admin's chat and the channel's original can be copied.
    for (from, id) in [(admin.id, fwd.message_id()), (-1001234, 42)] {
        let params = json!({"chat_id": 300, "from_chat_id": from, "message_id": id});
        assert_eq!(api(&tg, "copyMessage", params).await.0, 200);
    }
    assert!(
        tg.sent_to(300)
            .iter()
            .all(|m| m.text.as_deref() == Some("Channel news"))
    );

    let formatted = UserMessage::text("Hello {first_name}, sale!")
        .bold("Hello")
        .italic("sale");
    let sent = tg.user_sends_message(&admin, formatted).await.unwrap();
    assert_eq!(
        sent.message["entities"],
        json!([
            {"type": "bold", "offset": 0, "length": 5},
            {"type": "italic", "offset": 20, "length": 4},
        ])
    );

    // The same over the control route, as the demo drives it.
    let (status, body) = control(
        &tg,
        "/users/2/message",
        json!({"text": "ids", "file": {"kind": "document", "file_name": "ids.txt", "content": "7\n8\n"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["delivered"], true);
    let file_id = body["message"]["document"]["file_id"].clone();
    let (status, _) = api(&tg, "getFile", json!({"file_id": file_id})).await;
    assert_eq!(status, 200);
    let (status, body) = control(
        &tg,
        "/users/2/message",
        json!({"file": {"kind": "photo"}, "text": "pic", "entities": [{"type": "bold", "offset": 0, "length": 3}], "forward_from_channel": {"chat_id": -100999, "message_id": 7}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["message"]["photo"].is_array());
    assert_eq!(body["message"]["forward_origin"]["message_id"], 7);
}

#[tokio::test]
async fn peak_rate_and_429_counts_follow_the_limiter() {
    let tg = fake().await;
    let results = burst(&tg, 45, false).await;
    let refused = results.iter().filter(|(s, _)| *s == 429).count();
    let peaks = tg.sends_per_second_max(TOKEN);
    // However the burst was scheduled, no second held more than Telegram's 30.
    assert!((1..=30).contains(&peaks.ordinary), "{peaks:?}");
    assert_eq!(peaks.paid, 0);
    assert_eq!(peaks.total, peaks.ordinary);
    assert_eq!(tg.count_429(), refused);

    for chat in 0..3 {
        let params = json!({"chat_id": 8000 + chat, "text": "paid", "allow_paid_broadcast": true});
        assert_eq!(api(&tg, "sendMessage", params).await.0, 200);
    }
    let after = tg.sends_per_second_max(TOKEN);
    assert!((1..=3).contains(&after.paid), "{after:?}");
    assert_eq!(
        after.ordinary, peaks.ordinary,
        "paid sends are counted apart"
    );
    assert_eq!(tg.sends_per_second_max("777:other"), Default::default());

    let stats: Value = common::client()
        .get(format!("{}/_sandbox/stats", tg.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["count_429"], refused);
    assert_eq!(stats["sends_per_second_max"][TOKEN]["paid"], after.paid);
    let messages: Value = common::client()
        .get(format!("{}/_sandbox/chats/8000/messages", tg.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(messages[0]["text"], "paid");
    assert_eq!(messages[0]["paid"], true);
}

/// With the limits off (benchmarks), many keep-alive connections sending at once are all
/// answered 200 and every send is recorded. It also prints a rough sends/s figure (`--nocapture`);
/// the benchmark harness, not this test, is where speed is judged. The client writes raw HTTP/1.1
/// so the figure is mostly the fake's own cost, not a debug-built HTTP client's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_limits_off_concurrent_sends_are_all_answered_and_recorded() {
    let tg = FakeTelegram::start(TelegramOptions {
        enforce_limits: false,
        ..TelegramOptions::default()
    })
    .await
    .unwrap();
    let addr = tg.base_url().trim_start_matches("http://").to_owned();
    let (connections, per_connection) = (16, 250);
    let started = std::time::Instant::now();
    let cpu_before = process_cpu_seconds();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
                for i in 0..per_connection {
                    let chat = c * per_connection + i + 1;
                    raw_send(&mut stream, &addr, chat).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    let total = connections * per_connection;
    // CPU time per send is steadier than the wall-clock rate on a shared machine.
    println!(
        "{total} sends in {elapsed:.2} s: {:.0} sends/s, {:.0} µs CPU per send (client included)",
        total as f64 / elapsed,
        cpu * 1e6 / total as f64
    );
    let recorded = tg.calls();
    assert_eq!(recorded.len(), total as usize);
    assert!(recorded.iter().all(|c| c.status == 200));
}

/// User + system CPU time of this process, from /proc (Linux, 100 ticks a second).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

async fn raw_send(stream: &mut tokio::net::TcpStream, host: &str, chat: i64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = format!(
        r#"{{"chat_id":{chat},"text":"Big sale: <b>-50%</b> today","parse_mode":"HTML","reply_markup":{{"inline_keyboard":[[{{"text":"Shop","url":"https://shop.example/?c={chat}"}}]]}}}}"#
    );
    let request = format!(
        "POST /bot{TOKEN}/sendMessage HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(head_end) = text.find("\r\n\r\n") {
            assert!(text.starts_with("HTTP/1.1 200"), "{text}");
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            if buf.len() >= head_end + 4 + length {
                return;
            }
        }
    }
}

/// setWebhook with an uploaded certificate (multipart), as for a self-signed webhook: a PEM
/// certificate is taken and reported by getWebhookInfo; anything else is refused.
#[tokio::test]
async fn set_webhook_takes_an_uploaded_certificate_and_refuses_a_non_certificate() {
    let tg = FakeTelegram::start(TelegramOptions::default())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let upload = |file: &'static [u8]| {
        let form = reqwest::multipart::Form::new()
            .text("url", "https://bot.example.com/webhook")
            .text("allowed_updates", r#"["message"]"#)
            .part(
                "certificate",
                reqwest::multipart::Part::bytes(file).file_name("cert.pem"),
            );
        client
            .post(format!("{}/bot{TOKEN}/setWebhook", tg.base_url()))
            .multipart(form)
            .send()
    };
    let refused: Value = upload(b"not a certificate")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(tg.webhook_url().is_none());
    let taken: Value = upload(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(taken["ok"], true, "{taken}");
    let info = tg.webhook_info();
    assert_eq!(info["has_custom_certificate"], true, "{info}");
    assert_eq!(
        info["allowed_updates"],
        json!(["message"]),
        "form fields are JSON-decoded"
    );
}

//! The bot's side of broadcasts through the whole fleet: news subscription
//! commands and the unsubscribe button, admin-only commands, and the admin's
//! broadcast dialog driven through the sandbox as an admin would.

use crate::broadcast::{
    client, everyone, fleet_at, get, now, seed_users, start, text, wait_status,
};
use crate::harness::{ADMIN, Fleet, button_data, message_id, user};
use sandbox::telegram::{RecordedCall, TgUser, UserMessage};
use std::time::Duration;

const UNKNOWN: &str = "I didn't understand that.";

async fn subscribed(fleet: &Fleet, id: i64) -> bool {
    sqlx::query_scalar("SELECT subscribed FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&fleet.pool)
        .await
        .expect("user row")
}

fn text_of(c: &RecordedCall) -> &str {
    c.params["text"].as_str().unwrap_or_default()
}

/// The answerCallbackQuery the bot sent for the latest press of `user`.
async fn answer_to_press(fleet: &Fleet, nth: usize) -> RecordedCall {
    for _ in 0..200 {
        let answers = fleet.tg.calls_to("answerCallbackQuery");
        if answers.len() > nth {
            return answers[nth].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no answerCallbackQuery #{nth}");
}

/// Waits for a message to `chat` after its first `before` ones that contains `needle`.
async fn reply_after(fleet: &Fleet, chat: i64, before: usize, needle: &str) -> RecordedCall {
    for _ in 0..400 {
        if let Some(c) = fleet.replies_to(chat)[before..]
            .iter()
            .find(|c| text_of(c).contains(needle))
        {
            return c.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "chat {chat} never got {needle:?} after message {before}; it got {:#?}",
        &fleet.texts_to(chat)[before..]
    );
}

/// The admin types `text`; returns the reply containing `needle`.
async fn says(fleet: &Fleet, u: &TgUser, text: &str, needle: &str) -> RecordedCall {
    let before = fleet.replies_to(u.id).len();
    let d = fleet.tg.user_sends(u, text).await.expect("webhook set");
    assert!(d.delivered, "{text:?}: {:?}", d.attempts);
    reply_after(fleet, u.id, before, needle).await
}

/// The admin presses `data` under `on`; returns the reply containing `needle`.
async fn presses(
    fleet: &Fleet,
    u: &TgUser,
    on: &RecordedCall,
    data: &str,
    needle: &str,
) -> RecordedCall {
    assert!(
        button_data(on).iter().any(|d| d == data),
        "no {data} button under {}",
        on.params
    );
    let before = fleet.replies_to(u.id).len();
    let d = fleet
        .tg
        .user_presses(u, message_id(on), data)
        .await
        .expect("webhook set");
    assert!(d.delivered, "{data}: {:?}", d.attempts);
    reply_after(fleet, u.id, before, needle).await
}

/// The admin sends a formatted message, a file or a forward; returns the reply containing `needle`.
async fn sends(
    fleet: &Fleet,
    u: &TgUser,
    m: UserMessage,
    needle: &str,
) -> (i64, Option<String>, RecordedCall) {
    let before = fleet.replies_to(u.id).len();
    let sent = fleet
        .tg
        .user_sends_message(u, m)
        .await
        .expect("webhook set");
    assert!(sent.delivery.delivered, "{:?}", sent.delivery.attempts);
    let reply = reply_after(fleet, u.id, before, needle).await;
    (sent.message_id(), sent.file_id(), reply)
}

/// From the buttons step on, with no buttons, no unsubscribe button, the
/// audience given, sent now and confirmed; returns the campaign id once it is done.
async fn finish_dialog(
    fleet: &Fleet,
    admin: &TgUser,
    buttons_question: &RecordedCall,
    audience: &str,
) -> String {
    let q = presses(
        fleet,
        admin,
        buttons_question,
        "bcd:skip",
        "«Unsubscribe» button",
    )
    .await;
    let q = presses(fleet, admin, &q, "bcd:unsub:no", "Step 3 of 5").await;
    let q = presses(fleet, admin, &q, audience, "Step 4 of 5").await;
    let summary = presses(fleet, admin, &q, "bcd:when:now", "Step 5 of 5").await;
    let confirm = button_data(&summary)
        .into_iter()
        .find(|d| d.starts_with("bcd:ok:"))
        .expect("a confirm button");
    presses(fleet, admin, &summary, &confirm, "Started").await;
    let id = confirm.trim_start_matches("bcd:ok:").to_string();
    wait_status(
        &mut client(fleet).await,
        &id,
        "done",
        Duration::from_secs(30),
    )
    .await;
    id
}

/// The `message_id` an edit was sent for.
fn message_id_param(c: &RecordedCall) -> i64 {
    c.params["message_id"]
        .as_i64()
        .or_else(|| c.params["message_id"].as_str().and_then(|s| s.parse().ok()))
        .expect("an edit names its message")
}

/// The buttons of a sent message as (text, url or callback data).
fn buttons(c: &RecordedCall) -> Vec<(String, String)> {
    c.params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            let target = b["url"].as_str().or(b["callback_data"].as_str());
            (
                b["text"].as_str().unwrap_or_default().to_string(),
                target.unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Presses `data` under message `on` as `u` and returns the text the bot answered the press with.
async fn press_answer(fleet: &Fleet, u: &TgUser, on: i64, data: &str) -> String {
    let before = fleet.tg.calls_to("answerCallbackQuery").len();
    let d = fleet
        .tg
        .user_presses(u, on, data)
        .await
        .expect("webhook set");
    assert!(d.delivered, "{data}: {:?}", d.attempts);
    let answer = answer_to_press(fleet, before).await;
    answer.params["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn unsubscribe_sticks_across_start_until_subscribe() {
    let fleet = Fleet::start().await;
    let u = user(7001);
    let welcome = fleet.say(&u, "/start").await;
    assert!(
        text_of(&welcome).contains("You are subscribed"),
        "{}",
        text_of(&welcome)
    );
    assert!(subscribed(&fleet, u.id).await, "a new user is subscribed");

    let reply = fleet.say(&u, "/unsubscribe").await;
    assert!(
        text_of(&reply).contains("unsubscribed"),
        "{}",
        text_of(&reply)
    );
    assert!(!subscribed(&fleet, u.id).await);

    // /start again: still unsubscribed, and the welcome says so.
    let welcome = fleet.say(&u, "/start").await;
    assert!(
        text_of(&welcome).contains("not subscribed") && text_of(&welcome).contains("/subscribe"),
        "{}",
        text_of(&welcome)
    );
    assert!(
        !subscribed(&fleet, u.id).await,
        "/start must not resubscribe"
    );

    let reply = fleet.say(&u, "/subscribe").await;
    assert!(
        text_of(&reply).contains("You are subscribed"),
        "{}",
        text_of(&reply)
    );
    assert!(subscribed(&fleet, u.id).await);

    // In Russian too.
    let ru = TgUser::new(7002, "Иван").with_language("ru");
    fleet.say(&ru, "/start").await;
    let reply = fleet.say(&ru, "/unsubscribe").await;
    assert!(
        text_of(&reply).contains("отписались"),
        "{}",
        text_of(&reply)
    );
    assert!(!subscribed(&fleet, ru.id).await);
    fleet.stop().await;
}

#[tokio::test]
async fn the_unsub_button_unsubscribes_and_answers_the_press() {
    let fleet = Fleet::start().await;
    let u = user(7003);
    let welcome = fleet.say(&u, "/start").await;
    assert!(subscribed(&fleet, u.id).await);
    let answers_before = fleet.tg.calls_to("answerCallbackQuery").len();
    let reply = fleet.press(&u, &welcome, "unsub").await;
    assert!(
        text_of(&reply).contains("unsubscribed"),
        "{}",
        text_of(&reply)
    );
    let answer = answer_to_press(&fleet, answers_before).await;
    assert!(
        answer.params["text"]
            .as_str()
            .is_some_and(|t| t.contains("Unsubscribed")),
        "{}",
        answer.params
    );
    assert!(!subscribed(&fleet, u.id).await);
    // /start keeps it so.
    fleet.say(&u, "/start").await;
    assert!(!subscribed(&fleet, u.id).await);
    fleet.stop().await;
}

#[tokio::test]
async fn admin_commands_are_unknown_commands_for_everyone_else() {
    let fleet = Fleet::start().await;
    let u = user(7004);
    fleet.say(&u, "/start").await;
    for cmd in ["/broadcast", "/stats", "/campaigns"] {
        let reply = fleet.say(&u, cmd).await;
        assert!(
            text_of(&reply).starts_with(UNKNOWN),
            "{cmd}: {}",
            text_of(&reply)
        );
        assert!(reply.params["reply_markup"].is_null(), "{cmd}: no keyboard");
    }
    // No dialog was opened: the next message is not taken as broadcast content.
    let reply = fleet.say(&u, "Hello everyone").await;
    assert!(text_of(&reply).starts_with(UNKNOWN), "{}", text_of(&reply));
    let help = fleet.say(&u, "/help").await;
    assert!(!text_of(&help).contains("/broadcast"), "{}", text_of(&help));

    // A progress button pressed by a non-admin is refused and changes nothing.
    let answers_before = fleet.tg.calls_to("answerCallbackQuery").len();
    let id = message_id(&help);
    let d = fleet
        .tg
        .user_presses(&u, id, "bc:cancel:123e4567-e89b-12d3-a456-426614174000")
        .await
        .unwrap();
    assert!(d.delivered);
    let answer = answer_to_press(&fleet, answers_before).await;
    assert!(
        answer.params["text"]
            .as_str()
            .is_some_and(|t| t.contains("Only admins")),
        "{}",
        answer.params
    );
    let campaigns: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(campaigns, 0);
    fleet.stop().await;
}

#[tokio::test]
async fn an_admin_can_open_and_cancel_the_broadcast_dialog() {
    let fleet = Fleet::start().await;
    let admin = user(ADMIN);
    fleet.say(&admin, "/start").await;
    let help = fleet.say(&admin, "/help").await;
    assert!(text_of(&help).contains("/broadcast"), "{}", text_of(&help));
    let ask = fleet.say(&admin, "/broadcast").await;
    assert!(text_of(&ask).contains("step 1 of 5"), "{}", text_of(&ask));
    let left = fleet.say(&admin, "/cancel").await;
    assert!(
        text_of(&left).contains("Broadcast cancelled"),
        "{}",
        text_of(&left)
    );
    // In the admin's language.
    let ru = TgUser::new(ADMIN, "Root").with_language("ru");
    says(&fleet, &ru, "/broadcast", "Новая рассылка").await;
    says(&fleet, &ru, "/cancel", "Рассылка отменена").await;
    // The dialog is over: text is not content any more.
    let reply = fleet.say(&admin, "Hello everyone").await;
    assert!(text_of(&reply).starts_with(UNKNOWN), "{}", text_of(&reply));
    fleet.stop().await;
}

#[tokio::test]
async fn the_admin_dialog_previews_confirms_and_every_subscriber_gets_the_campaign_once() {
    let fleet = fleet_at(30, |_| {}).await;
    let subscribers = [
        TgUser::new(7101, "Ann"),
        TgUser::new(7102, "Bob"),
        TgUser::new(7103, "Cleo"),
    ];
    for u in &subscribers {
        fleet.say(u, "/start").await;
    }
    // More subscribers, so the campaign runs a few seconds and its progress
    // message is live before it ends.
    seed_users(&fleet, 80_000, 100).await;
    let quiet = user(7104);
    fleet.say(&quiet, "/start").await;
    fleet.say(&quiet, "/unsubscribe").await;
    // The admin is not a subscriber: their chat gets the preview and the progress only.
    let admin = TgUser::new(ADMIN, "Root");
    fleet.say(&admin, "/start").await;
    fleet.say(&admin, "/unsubscribe").await;

    says(&fleet, &admin, "/broadcast", "step 1 of 5").await;
    says(
        &fleet,
        &admin,
        "Hello <b>{first_name}</b>! Winter sale -20%",
        "Step 2 of 5",
    )
    .await;
    // A bad button line is refused naming it, and the step is kept.
    let refused = says(&fleet, &admin, "Shop https://example.com", "Line 1").await;
    assert!(
        text_of(&refused).contains("not a button"),
        "{}",
        text_of(&refused)
    );
    let q = says(
        &fleet,
        &admin,
        "Shop - https://example.com/shop",
        "«Unsubscribe» button",
    )
    .await;
    let q = presses(&fleet, &admin, &q, "bcd:unsub:yes", "Step 3 of 5").await;
    let q = presses(&fleet, &admin, &q, "bcd:aud:all", "Step 4 of 5").await;
    assert!(
        text_of(&q).contains("Recipients: <b>103</b>"),
        "{}",
        text_of(&q)
    );

    let before = fleet.replies_to(ADMIN).len();
    let summary = presses(&fleet, &admin, &q, "bcd:when:now", "Step 5 of 5").await;
    let s = text_of(&summary);
    assert!(
        s.contains("Recipients: <b>103</b>") && s.contains("now"),
        "{s}"
    );
    // The preview came first, exactly as a recipient sees it (the admin's own name filled in).
    let previews: Vec<RecordedCall> = fleet.replies_to(ADMIN)[before..]
        .iter()
        .filter(|c| text_of(c).starts_with("Hello"))
        .cloned()
        .collect();
    assert_eq!(previews.len(), 1, "{:#?}", fleet.texts_to(ADMIN));
    assert_eq!(text_of(&previews[0]), "Hello <b>Root</b>! Winter sale -20%");
    let preview_buttons = buttons(&previews[0]);
    assert_eq!(
        preview_buttons[0],
        ("Shop".into(), "https://example.com/shop".into())
    );
    assert_eq!(preview_buttons[1].1, "unsub");

    let confirm = button_data(&summary)
        .into_iter()
        .find(|d| d.starts_with("bcd:ok:"))
        .expect("a confirm button");
    let id = confirm.trim_start_matches("bcd:ok:").to_string();
    let started = presses(&fleet, &admin, &summary, &confirm, "Started").await;
    // The summary itself turned into the outcome: its buttons can't be pressed twice.
    assert_eq!(started.method, "editMessageText");
    assert_eq!(message_id_param(&started), message_id(&summary));
    assert!(buttons(&started).is_empty(), "{}", started.params);

    let mut c = client(&fleet).await;
    // 104 recipients at 30/s take ~4 s; a loaded CI box gives up late slots.
    let done = wait_status(&mut c, &id, "done", Duration::from_secs(90)).await;
    assert_eq!(done.created_by, ADMIN);
    assert_eq!(done.progress.unwrap().sent, 103);
    for u in &subscribers {
        let got: Vec<RecordedCall> = fleet
            .replies_to(u.id)
            .into_iter()
            .filter(|c| text_of(c).contains("Winter sale"))
            .collect();
        assert_eq!(
            got.len(),
            1,
            "{} got {:#?}",
            u.first_name,
            fleet.texts_to(u.id)
        );
        assert_eq!(
            text_of(&got[0]),
            format!("Hello <b>{}</b>! Winter sale -20%", u.first_name)
        );
        assert_eq!(got[0].params["parse_mode"], "HTML");
        let b = buttons(&got[0]);
        assert_eq!(b[0], ("Shop".into(), "https://example.com/shop".into()));
        assert_eq!(b[1].1, "unsub");
    }
    assert!(
        !fleet
            .texts_to(quiet.id)
            .iter()
            .any(|t| t.contains("Winter sale")),
        "an unsubscribed user got the campaign"
    );
    // The live progress message ends showing the final counts, without buttons.
    let last = fleet
        .tg
        .wait_for_call(
            |c| {
                c.ok()
                    && c.chat_id() == Some(ADMIN)
                    && matches!(c.method.as_str(), "sendMessage" | "editMessageText")
                    && text_of(c).contains("finished")
            },
            Duration::from_secs(20),
        )
        .await
        .unwrap_or_else(|| {
            panic!(
                "the progress message never showed the end: {:#?}",
                fleet
                    .tg
                    .calls()
                    .iter()
                    .filter(|c| c.chat_id() == Some(ADMIN))
                    .map(|c| (c.method.clone(), c.status, text_of(c).to_string()))
                    .collect::<Vec<_>>()
            )
        });
    let t = text_of(&last);
    assert!(
        t.contains("Sent: 103") && t.contains("Failed: 0") && t.contains("Recipients: 103"),
        "{t}"
    );
    assert!(buttons(&last).is_empty(), "{}", last.params);
    let confirmed: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT actor, details FROM audit_log WHERE action = 'campaign.start'")
            .fetch_all(&fleet.pool)
            .await
            .unwrap();
    assert_eq!(confirmed.len(), 1, "the confirmation is audited");
    assert_eq!(confirmed[0].0, format!("telegram:{ADMIN}"));
    assert_eq!(confirmed[0].1["recipients"], 103);

    // /campaigns and /stats show it.
    let list = says(&fleet, &admin, "/campaigns", "Latest campaigns").await;
    let l = text_of(&list);
    assert!(
        l.contains("✅ done")
            && l.contains("103/103 sent")
            && l.contains("Hello {first_name}! Winter sale"),
        "{l}"
    );
    let stats = says(&fleet, &admin, "/stats", "Stats").await;
    let st = text_of(&stats);
    assert!(
        st.contains("Campaigns sent: <b>1</b>") && st.contains("Subscribers: <b>103</b>"),
        "{st}"
    );

    // A recipient unsubscribes with the button under the campaign message.
    let bob = &subscribers[1];
    let campaign_message = fleet
        .replies_to(bob.id)
        .into_iter()
        .find(|c| text_of(c).contains("Winter sale"))
        .unwrap();
    let reply = fleet.press(bob, &campaign_message, "unsub").await;
    assert!(
        text_of(&reply).contains("unsubscribed"),
        "{}",
        text_of(&reply)
    );
    assert!(!subscribed(&fleet, bob.id).await);
    fleet.stop().await;
}

#[tokio::test]
async fn the_dialog_shows_the_services_refusals_and_edit_and_cancel_discard_the_draft() {
    let fleet = fleet_at(30, |_| {}).await;
    fleet.say(&user(7201), "/start").await;
    let admin = TgUser::new(ADMIN, "Root");
    fleet.say(&admin, "/start").await;
    says(&fleet, &admin, "/broadcast", "step 1 of 5").await;
    // An unknown variable is refused at composition and the step is kept.
    let refused = says(&fleet, &admin, "Hi {nmae}", "can't be broadcast").await;
    assert!(text_of(&refused).contains("nmae"), "{}", text_of(&refused));
    let q = says(&fleet, &admin, "Hi {first_name}", "Step 2 of 5").await;
    let q = presses(&fleet, &admin, &q, "bcd:skip", "«Unsubscribe» button").await;
    let q = presses(&fleet, &admin, &q, "bcd:unsub:no", "Step 3 of 5").await;
    // An audience nobody is in: said so, and asked again.
    let q = presses(&fleet, &admin, &q, "bcd:aud:lang", "language code").await;
    let again = says(&fleet, &admin, "de", "Nobody is in this audience").await;
    assert!(button_data(&again).iter().any(|d| d == "bcd:aud:all"));
    let _ = q;
    let q = presses(&fleet, &admin, &again, "bcd:aud:all", "Step 4 of 5").await;
    // A time in the past is refused by the service with its reason; the step is kept.
    presses(&fleet, &admin, &q, "bcd:when:at", "YYYY-MM-DD HH:MM").await;
    let refused = says(&fleet, &admin, "2020-01-01 10:00", "Try again").await;
    assert!(text_of(&refused).contains("past"), "{}", text_of(&refused));
    let summary = says(&fleet, &admin, "2099-06-01 10:00", "Step 5 of 5").await;
    assert!(
        text_of(&summary).contains("2099-06-01 10:00"),
        "{}",
        text_of(&summary)
    );
    let first = button_data(&summary)
        .into_iter()
        .find(|d| d.starts_with("bcd:edit:"))
        .unwrap();
    let first_id = first.trim_start_matches("bcd:edit:").to_string();

    // Paid toggle: a new draft replaces the first one.
    let paid_data = format!("bcd:paid:{first_id}");
    let paid = presses(&fleet, &admin, &summary, &paid_data, "Paid broadcast: yes").await;
    let second_id = button_data(&paid)
        .into_iter()
        .find_map(|d| d.strip_prefix("bcd:ok:").map(str::to_string))
        .unwrap();
    assert_ne!(second_id, first_id);
    let mut c = client(&fleet).await;
    assert_eq!(get(&mut c, &first_id).await.status, "cancelled");
    assert!(get(&mut c, &second_id).await.paid);
    // The outdated summary's buttons do nothing.
    let answer = press_answer(
        &fleet,
        &admin,
        message_id(&summary),
        &format!("bcd:ok:{first_id}"),
    )
    .await;
    assert!(answer.contains("earlier step"), "{answer}");
    assert_eq!(get(&mut c, &second_id).await.status, "draft");

    // Edit: the draft is cancelled and the dialog starts over.
    presses(
        &fleet,
        &admin,
        &paid,
        &format!("bcd:edit:{second_id}"),
        "step 1 of 5",
    )
    .await;
    assert_eq!(get(&mut c, &second_id).await.status, "cancelled");
    // /cancel at a later step cancels the new draft too.
    let q = says(&fleet, &admin, "Second try", "Step 2 of 5").await;
    let q = presses(&fleet, &admin, &q, "bcd:skip", "«Unsubscribe» button").await;
    let q = presses(&fleet, &admin, &q, "bcd:unsub:no", "Step 3 of 5").await;
    let q = presses(&fleet, &admin, &q, "bcd:aud:all", "Step 4 of 5").await;
    let summary = presses(&fleet, &admin, &q, "bcd:when:now", "Step 5 of 5").await;
    let third_id = button_data(&summary)
        .into_iter()
        .find_map(|d| d.strip_prefix("bcd:ok:").map(str::to_string))
        .unwrap();
    says(&fleet, &admin, "/cancel", "Broadcast cancelled").await;
    assert_eq!(get(&mut c, &third_id).await.status, "cancelled");
    // Nothing was ever sent to the subscriber.
    assert!(
        !fleet
            .texts_to(7201)
            .iter()
            .any(|t| t.contains("Hi ") || t.contains("Second try")),
        "{:#?}",
        fleet.texts_to(7201)
    );
    fleet.stop().await;
}

#[tokio::test]
async fn progress_buttons_pause_resume_and_cancel_for_admins_only() {
    // Slow enough that the campaign is still running while the buttons are pressed.
    let fleet = fleet_at(5, |_| {}).await;
    seed_users(&fleet, 60_000, 200).await;
    let admin = user(ADMIN);
    fleet.say(&admin, "/start").await;
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("Flash sale"), everyone(), now()).await;
    let pause = format!("bc:pause:{id}");
    let progress = fleet
        .tg
        .wait_for_call(
            |c| {
                c.ok()
                    && c.method == "sendMessage"
                    && c.chat_id() == Some(ADMIN)
                    && c.params["reply_markup"].to_string().contains(&pause)
            },
            Duration::from_secs(10),
        )
        .await
        .expect("the progress message with its Pause button");
    let on = message_id(&progress);

    // Someone else pressing is refused and changes nothing.
    let intruder = user(60_001);
    let answer = press_answer(&fleet, &intruder, on, &pause).await;
    assert!(answer.contains("Only admins"), "{answer}");
    assert_eq!(get(&mut c, &id).await.status, "running");

    let answer = press_answer(&fleet, &admin, on, &pause).await;
    assert!(answer.contains("Paused"), "{answer}");
    assert_eq!(get(&mut c, &id).await.status, "paused");
    // Pausing twice: the service's refusal is the answer.
    let answer = press_answer(&fleet, &admin, on, &pause).await;
    assert!(answer.contains("paused"), "{answer}");
    let answer = press_answer(&fleet, &admin, on, &format!("bc:resume:{id}")).await;
    assert!(answer.contains("Resumed"), "{answer}");
    assert_eq!(get(&mut c, &id).await.status, "running");
    let answer = press_answer(&fleet, &admin, on, &format!("bc:cancel:{id}")).await;
    assert!(answer.contains("Cancelled"), "{answer}");
    let cancelled = get(&mut c, &id).await;
    assert_eq!(cancelled.status, "cancelled");
    assert!(
        cancelled.progress.unwrap().pending > 0,
        "cancelled before the end: {cancelled:?}"
    );
    let answer = press_answer(&fleet, &admin, on, &format!("bc:resume:{id}")).await;
    assert!(
        answer.contains("Cannot resume a campaign that is cancelled"),
        "{answer}"
    );
    // An unknown campaign: the service's NOT_FOUND message.
    let ghost = "bc:pause:123e4567-e89b-12d3-a456-426614174000";
    let answer = press_answer(&fleet, &admin, on, ghost).await;
    assert!(answer.to_lowercase().contains("campaign"), "{answer}");
    assert_eq!(get(&mut c, &id).await.status, "cancelled");
    // The audit log lists each control that took effect, by the admin, and
    // neither the intruder's press nor the refused ones.
    let audited: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, action, target FROM audit_log ORDER BY id")
            .fetch_all(&fleet.pool)
            .await
            .unwrap();
    let actor = format!("telegram:{ADMIN}");
    let target = format!("campaign:{id}");
    let expected: Vec<(String, String, String)> = ["pause", "resume", "cancel"]
        .iter()
        .map(|a| (actor.clone(), format!("campaign.{a}"), target.clone()))
        .collect();
    assert_eq!(audited, expected);
    fleet.stop().await;
}

#[tokio::test]
async fn an_uploaded_id_list_selects_exactly_those_users() {
    let fleet = fleet_at(30, |_| {}).await;
    for id in 7301..=7305 {
        fleet.say(&user(id), "/start").await;
    }
    fleet.say(&user(7304), "/unsubscribe").await;
    let admin = TgUser::new(ADMIN, "Root");
    fleet.say(&admin, "/start").await;
    says(&fleet, &admin, "/broadcast", "step 1 of 5").await;
    let q = says(&fleet, &admin, "Only for the list", "Step 2 of 5").await;
    let q = presses(&fleet, &admin, &q, "bcd:skip", "«Unsubscribe» button").await;
    let q = presses(&fleet, &admin, &q, "bcd:unsub:no", "Step 3 of 5").await;
    presses(&fleet, &admin, &q, "bcd:aud:list", ".txt or .csv").await;

    // Text instead of a file, a file of the wrong kind, a list with garbage: each refused, the step kept.
    says(&fleet, &admin, "7301", "I need a file").await;
    sends(&fleet, &admin, UserMessage::photo(), "I need a file").await;
    sends(
        &fleet,
        &admin,
        UserMessage::document("ids.xlsx", &b"7301"[..]),
        "Only .txt or .csv",
    )
    .await;
    let (_, _, refused) = sends(
        &fleet,
        &admin,
        UserMessage::document("ids.csv", &b"user_id\n7301\nBob;7302\n7303\n"[..]),
        "was refused",
    )
    .await;
    assert!(
        text_of(&refused).contains("3: «Bob;7302»"),
        "{}",
        text_of(&refused)
    );

    // Over the size limit: refused from the size Telegram reports, before any download.
    let big = vec![b'1'; 6 * 1024 * 1024];
    sends(
        &fleet,
        &admin,
        UserMessage::document("ids.txt", big),
        "larger than 5 MB",
    )
    .await;

    // A header, duplicates, an unsubscribed user and an unknown id.
    let list = "user_id\r\n7301\r\n7303, 7303\r\n7304\r\n999999\r\n";
    let (_, _, counted) = sends(
        &fleet,
        &admin,
        UserMessage::document("ids.csv", list.as_bytes().to_vec()),
        "Step 4 of 5",
    )
    .await;
    let t = text_of(&counted);
    assert!(
        t.contains("Recipients: <b>2</b>") && t.contains("2 id(s) of the list are left out"),
        "{t}"
    );
    let summary = presses(&fleet, &admin, &counted, "bcd:when:now", "Step 5 of 5").await;
    assert!(
        text_of(&summary).contains("uploaded list (4 ids)"),
        "{}",
        text_of(&summary)
    );
    let confirm = button_data(&summary)
        .into_iter()
        .find(|d| d.starts_with("bcd:ok:"))
        .unwrap();
    presses(&fleet, &admin, &summary, &confirm, "Started").await;
    let id = confirm.trim_start_matches("bcd:ok:").to_string();
    let done = wait_status(
        &mut client(&fleet).await,
        &id,
        "done",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(done.progress.unwrap().recipients, 2);
    for id in 7301..=7305 {
        let got = fleet
            .texts_to(id)
            .iter()
            .filter(|t| t.as_str() == "Only for the list")
            .count();
        let expected = usize::from(id == 7301 || id == 7303);
        assert_eq!(got, expected, "user {id}");
    }
    fleet.stop().await;
}

#[tokio::test]
async fn a_photo_with_a_formatted_caption_and_a_forwarded_post_arrive_as_composed() {
    let fleet = fleet_at(30, |_| {}).await;
    let subscriber = TgUser::new(7401, "Ann");
    fleet.say(&subscriber, "/start").await;
    let admin = TgUser::new(ADMIN, "Root");
    fleet.say(&admin, "/start").await;
    fleet.say(&admin, "/unsubscribe").await;

    // A photo whose caption was formatted in the client; the emoji shifts
    // every offset by two UTF-16 units.
    says(&fleet, &admin, "/broadcast", "step 1 of 5").await;
    let photo = UserMessage::photo()
        .caption("🎉 Big sale for {first_name} in our shop & more")
        .bold("Big sale")
        .link("our shop", "https://shop.example/?a=1&b=2");
    let (_, file_id, q) = sends(&fleet, &admin, photo, "Step 2 of 5").await;
    finish_dialog(&fleet, &admin, &q, "bcd:aud:all").await;
    let photos: Vec<RecordedCall> = fleet
        .replies_to(subscriber.id)
        .into_iter()
        .filter(|c| c.method == "sendPhoto")
        .collect();
    assert_eq!(photos.len(), 1, "{:#?}", fleet.texts_to(subscriber.id));
    assert_eq!(photos[0].params["photo"].as_str(), file_id.as_deref());
    assert_eq!(
        photos[0].params["caption"],
        "🎉 <b>Big sale</b> for Ann in <a href=\"https://shop.example/?a=1&amp;b=2\">our shop</a> &amp; more"
    );
    assert_eq!(photos[0].params["parse_mode"], "HTML");

    // A forwarded channel post is copied from the admin's chat, untouched.
    says(&fleet, &admin, "/broadcast", "step 1 of 5").await;
    let post = UserMessage::text("Channel news: we opened a shop")
        .bold("Channel news")
        .forwarded_from_channel(-100_777, "Our channel", 42);
    let (forwarded_id, _, q) = sends(&fleet, &admin, post, "Step 2 of 5").await;
    finish_dialog(&fleet, &admin, &q, "bcd:aud:all").await;
    let copies: Vec<RecordedCall> = fleet
        .replies_to(subscriber.id)
        .into_iter()
        .filter(|c| c.method == "copyMessage")
        .collect();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].params["from_chat_id"].as_i64(), Some(ADMIN));
    assert_eq!(copies[0].params["message_id"].as_i64(), Some(forwarded_id));
    let shown = fleet.tg.sent_to(subscriber.id);
    let copy = shown
        .iter()
        .find(|m| m.method == "copyMessage")
        .expect("the copy in the chat");
    assert_eq!(copy.text.as_deref(), Some("Channel news: we opened a shop"));
    assert_eq!(copy.copied_from, Some((ADMIN, forwarded_id)));
    fleet.stop().await;
}

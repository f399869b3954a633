//! The bot's side of broadcasts through the whole fleet: news subscription
//! commands and the unsubscribe button, admin-only commands, and the admin's
//! broadcast dialog driven through the sandbox as an admin would.

use crate::harness::{ADMIN, Fleet, message_id, user};
use sandbox::telegram::{RecordedCall, TgUser};
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
    // The dialog is over: text is not content any more.
    let reply = fleet.say(&admin, "Hello everyone").await;
    assert!(text_of(&reply).starts_with(UNKNOWN), "{}", text_of(&reply));
    fleet.stop().await;
}

//! Telegram updates: secret check, body limits, dedup, hand-over failures.

use crate::harness::{Fleet, SECRET, message_update, user};
use std::time::Duration;

#[tokio::test]
async fn start_with_the_right_secret_registers_the_user_and_replies_with_the_menu() {
    let fleet = Fleet::start().await;
    let delivery = fleet
        .tg
        .user_sends(&user(1001), "/start")
        .await
        .expect("deliver");
    assert!(delivery.delivered, "attempts: {:?}", delivery.attempts);

    let replies = fleet.wait_replies(1001, 1).await;
    let text = replies[0].params["text"].as_str().unwrap();
    assert!(text.contains("Hi, Ann"), "{text}");
    let buttons = replies[0].params["reply_markup"]["inline_keyboard"].to_string();
    assert!(
        buttons.contains("Buy stars") && buttons.contains("Balance"),
        "{buttons}"
    );
    assert!(fleet.user_exists(1001).await);
    fleet.stop().await;
}

#[tokio::test]
async fn russian_users_are_answered_in_russian() {
    let fleet = Fleet::start().await;
    let ru = sandbox::telegram::TgUser::new(1002, "Иван").with_language("ru");
    fleet.tg.user_sends(&ru, "/start").await.expect("deliver");
    let replies = fleet.wait_replies(1002, 1).await;
    assert!(
        replies[0].params["text"]
            .as_str()
            .unwrap()
            .contains("Привет, Иван")
    );
    fleet.tg.user_sends(&ru, "/help").await.expect("deliver");
    let replies = fleet.wait_replies(1002, 2).await;
    assert!(
        replies[1].params["text"]
            .as_str()
            .unwrap()
            .contains("Как это работает")
    );
    fleet.stop().await;
}

#[tokio::test]
async fn wrong_or_missing_secret_is_rejected_and_nothing_happens() {
    let fleet = Fleet::start().await;
    let body = message_update(500, 1003, "/start").to_string();
    let wrong = fleet
        .post_update(body.clone(), Some("not-the-secret"))
        .await;
    assert_eq!(wrong.status(), 401);
    let missing = fleet.post_update(body.clone(), None).await;
    assert_eq!(missing.status(), 401);
    // Prefix of the right secret: still rejected.
    let prefix = fleet.post_update(body, Some(&SECRET[..10])).await;
    assert_eq!(prefix.status(), 401);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fleet.replies_to(1003).is_empty());
    assert!(!fleet.user_exists(1003).await);
    fleet.stop().await;
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let fleet = Fleet::start().await;
    let huge = format!(
        r#"{{"update_id":1,"pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let resp = fleet.post_update(huge, Some(SECRET)).await;
    assert_eq!(resp.status(), 413);
    fleet.stop().await;
}

#[tokio::test]
async fn malformed_json_is_answered_200_and_dropped() {
    let fleet = Fleet::start().await;
    for body in ["{not json", r#"{"no_update_id":true}"#, "[]"] {
        let resp = fleet.post_update(body.to_string(), Some(SECRET)).await;
        assert_eq!(resp.status(), 200, "body {body:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fleet.tg.calls_to("sendMessage").is_empty());
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    fleet.stop().await;
}

#[tokio::test]
async fn the_same_update_sent_twenty_times_is_handled_once() {
    let fleet = Fleet::start().await;
    let body = message_update(7001, 1004, "/start").to_string();
    // Ten at once…
    let concurrent =
        futures::future::join_all((0..10).map(|_| fleet.post_update(body.clone(), Some(SECRET))))
            .await;
    let statuses: Vec<u16> = concurrent.iter().map(|r| r.status().as_u16()).collect();
    // One copy is handled; copies arriving while it runs are told to retry (503), never 200,
    // so a copy is not acknowledged before the update was really handled.
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    // …then ten in sequence, as Telegram redelivering would.
    for _ in 0..10 {
        let r = fleet.post_update(body.clone(), Some(SECRET)).await;
        assert_eq!(r.status(), 200, "a handled update must be acknowledged");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fleet.replies_to(1004).len(), 1, "exactly one welcome");
    fleet.stop().await;
}

#[tokio::test]
async fn bot_down_makes_the_gateway_answer_5xx_and_the_redelivery_is_handled_once() {
    let mut fleet = Fleet::start().await;
    fleet.stop_bot().await;
    let body = message_update(8001, 1005, "/start").to_string();
    let resp = fleet.post_update(body.clone(), Some(SECRET)).await;
    assert!(resp.status().is_server_error(), "got {}", resp.status());
    assert!(!fleet.user_exists(1005).await);

    fleet.start_bot().await;
    // Telegram redelivers until it gets a 2xx.
    let mut status = 0;
    for _ in 0..50 {
        status = fleet
            .post_update(body.clone(), Some(SECRET))
            .await
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
    // A late duplicate changes nothing.
    assert_eq!(fleet.post_update(body, Some(SECRET)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fleet.replies_to(1005).len(), 1);
    assert!(fleet.user_exists(1005).await);
    fleet.stop().await;
}

#[tokio::test]
async fn blocking_the_bot_marks_the_user_unreachable() {
    let fleet = Fleet::start().await;
    let u = user(1006);
    fleet.tg.user_sends(&u, "/start").await.unwrap();
    fleet.wait_replies(1006, 1).await;
    let d = fleet.tg.user_blocks_bot(&u).await.unwrap();
    assert!(d.delivered, "{:?}", d.attempts);
    let reachable: bool = sqlx::query_scalar("SELECT reachable FROM users WHERE id = 1006")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert!(!reachable);
    // Unblocking and coming back with /start makes them reachable again.
    fleet.tg.unblock_chat(1006);
    let d = fleet.tg.user_sends(&u, "/start").await.unwrap();
    assert!(d.delivered, "{:?}", d.attempts);
    let reachable: bool = sqlx::query_scalar("SELECT reachable FROM users WHERE id = 1006")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert!(reachable);
    fleet.stop().await;
}

#[tokio::test]
async fn updates_of_one_chat_are_handled_in_order() {
    let fleet = Fleet::start().await;
    let u = user(1007);
    fleet.tg.user_sends(&u, "/start").await.unwrap();
    for text in ["/help", "hello", "/help"] {
        fleet.tg.user_sends(&u, text).await.unwrap();
    }
    let replies = fleet.wait_replies(1007, 4).await;
    let texts: Vec<&str> = replies
        .iter()
        .map(|r| r.params["text"].as_str().unwrap())
        .collect();
    assert!(texts[0].contains("Hi, Ann"));
    assert!(texts[1].contains("How it works"));
    assert!(texts[2].contains("didn't understand"));
    assert!(texts[3].contains("How it works"));
    fleet.stop().await;
}

/// Redelivers `body` every 100 ms until it is accepted; returns how long that took.
async fn redeliver_until_ok(fleet: &Fleet, body: &str, within: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    loop {
        let status = fleet
            .post_update(body.to_string(), Some(SECRET))
            .await
            .status();
        if status == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "still {status} after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A gateway that died mid-hand-over leaves its claim behind (minutes of
/// lease). Its heartbeat stops, so the next gateway takes the claim over within
/// seconds; a claim whose owner is alive is respected (503) meanwhile.
#[tokio::test]
async fn a_claim_left_by_a_dead_gateway_is_taken_over_within_seconds() {
    let fleet = Fleet::start().await;
    let cache = cache::Cache::connect(&cache::RedisConfig::from_env(&fleet.env).unwrap())
        .await
        .unwrap();
    cache.wait_connected(Duration::from_secs(5)).await.unwrap();
    let lease = Duration::from_secs(600);

    // A live owner (heartbeat present): the update is theirs, 503 for now.
    cache.set("gw:alive:alive-gw", "1", lease).await.unwrap();
    let live = message_update(9101, 1101, "/start").to_string();
    assert_eq!(
        cache
            .claim_as(&cache::update_claim_key(9101), lease, "alive-gw")
            .await
            .unwrap(),
        cache::Claimed::Taken
    );
    for _ in 0..3 {
        let r = fleet.post_update(live.clone(), Some(SECRET)).await;
        assert_eq!(r.status(), 503);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(fleet.replies_to(1101).is_empty());

    // A dead owner (no heartbeat): taken over and handled, once.
    let dead = message_update(9102, 1102, "/start").to_string();
    assert_eq!(
        cache
            .claim_as(&cache::update_claim_key(9102), lease, "dead-gw")
            .await
            .unwrap(),
        cache::Claimed::Taken
    );
    let took = redeliver_until_ok(&fleet, &dead, Duration::from_secs(10)).await;
    eprintln!("a dead gateway's claim was taken over after {took:?}");
    assert_eq!(fleet.post_update(dead, Some(SECRET)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fleet.replies_to(1102).len(), 1);
    fleet.stop().await;
}

/// A hand-over that fails (the bot is down) gives the update's claim back at
/// once, so Telegram's redelivery may reach any gateway and be handled there,
/// instead of being refused as "busy" for the claim's whole lease.
#[tokio::test]
async fn a_failed_hand_over_gives_the_claim_back_for_another_gateway() {
    let mut fleet = Fleet::start().await;
    let cache = cache::Cache::connect(&cache::RedisConfig::from_env(&fleet.env).unwrap())
        .await
        .unwrap();
    cache.wait_connected(Duration::from_secs(5)).await.unwrap();
    fleet.stop_bot().await;
    let update = message_update(9301, 1301, "/start").to_string();
    let r = fleet.post_update(update, Some(SECRET)).await;
    assert!(r.status().is_server_error(), "{}", r.status());
    // Another gateway (named "other-gw" here) can take the claim right away.
    assert_eq!(
        cache
            .claim_as(
                &cache::update_claim_key(9301),
                Duration::from_secs(600),
                "other-gw"
            )
            .await
            .unwrap(),
        cache::Claimed::Taken
    );
    fleet.stop().await;
}

/// The gateway that handed an update to the bot died; the bot finished the
/// reaction anyway and marked the update done itself, so the redelivery that
/// reaches the next gateway is answered from the marker: one reply, not two.
#[tokio::test]
async fn an_update_the_bot_finished_after_its_gateway_died_is_not_handled_again() {
    let fleet = Fleet::start().await;
    let cache = cache::Cache::connect(&cache::RedisConfig::from_env(&fleet.env).unwrap())
        .await
        .unwrap();
    cache.wait_connected(Duration::from_secs(5)).await.unwrap();
    let update = message_update(9201, 1201, "/start");
    // The dead gateway's claim, and its hand-over, which the bot completes.
    cache
        .claim_as(
            &cache::update_claim_key(9201),
            Duration::from_secs(600),
            "dead-gw",
        )
        .await
        .unwrap();
    let mut bot = proto::bot::bot_client::BotClient::connect(
        fleet.env.get("BOT_GRPC_URL").unwrap().to_string(),
    )
    .await
    .unwrap();
    bot.handle_update(proto::bot::UpdateRequest {
        update_id: 9201,
        chat_id: 1201,
        raw: update.to_string().into_bytes(),
    })
    .await
    .unwrap();
    assert_eq!(fleet.replies_to(1201).len(), 1);

    let took = redeliver_until_ok(&fleet, &update.to_string(), Duration::from_secs(10)).await;
    eprintln!("the redelivery was acknowledged after {took:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fleet.replies_to(1201).len(), 1, "handled once");
    fleet.stop().await;
}
